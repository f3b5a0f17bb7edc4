-- shield: one quota decision, atomically, all or nothing (RedisStore.decide, one round trip).
--
-- The same math as shield/quotas/limits.py, on integer microseconds (exact in Lua doubles below
-- 2^53). Time is the server's TIME unless ARGV[1] carries a test clock's value. State carries
-- its own timestamps, so correctness never depends on key expiry: PEXPIRE only collects idle keys.
--
-- KEYS: one per charge (already namespaced by kind), then strikes and block keys with a penalty.
--       Approximate Distinct derives its per-slot keys from its KEYS entry (same hash tag, same
--       Cluster slot).
-- ARGV[1]: every number, space-separated (one argument to encode and send instead of dozens):
--       now_us (or '-' for TIME), n, has_penalty, strikes, within_us, block_us, then per charge:
--       kind, flags (1 enforce, 2 peek), cost, a, b, c, d, n_members
--       r: T, tolerance, burst, window   b: slot width, slots, limit, window
--       d: window, limit                 h: slot width, slots, limit, window     c: ttl, limit
-- ARGV[2...]: the members of the Distinct charges, in charge order.
-- Returns one string (one reply to parse instead of dozens), space-separated integers:
--       now_us, allowed, refused_by (0-based, -1 none), blocked_us,
--       then per charge: fits, remaining, reset_us, retry_us.

if redis.replicate_commands then redis.replicate_commands() end -- Redis < 7: TIME before writes

local floor, call = math.floor, redis.call

local function ms(us)
  local v = math.ceil(us / 1000)
  if v < 1 then return 1 end
  return v
end

local function nonneg(x)
  if x < 0 then return 0 end
  return x
end

local function chunks(command, key, items, before)
  -- unpack() is limited to a few thousand values: send big member lists in slices.
  local results = {}
  for i = 1, #items, 1000 do
    local last = math.min(i + 999, #items)
    local args = {}
    if before then args[1] = before end
    for j = i, last do args[#args + 1] = items[j] end
    local r = call(command, key, unpack(args))
    if type(r) == 'table' then
      for _, v in ipairs(r) do results[#results + 1] = v end
    else
      results[#results + 1] = r
    end
  end
  return results
end

local head = {}
for token in string.gmatch(ARGV[1], '%S+') do head[#head + 1] = token end

local now
if head[1] ~= '-' then
  now = tonumber(head[1])
else
  local t = call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end

local check, commit = {}, {}

-- Rate: GCRA on the theoretical arrival time.
check.r = function(ch)
  local t, tol, cap, window = ch.a, ch.b, ch.c, ch.d
  local tat = tonumber(call('GET', ch.key))
  if not tat or tat < now then tat = now end
  ch.new = tat + ch.cost * t
  if ch.cost > cap then
    ch.retry = window
  else
    ch.retry = nonneg(ch.new - now - tol)
  end
  ch.rem0, ch.reset0 = nonneg(floor((tol - tat + now) / t)), tat - now
  ch.rem1, ch.reset1 = nonneg(floor((tol - ch.new + now) / t)), ch.new - now
end
commit.r = function(ch)
  if ch.cost > 0 then call('SET', ch.key, ch.new, 'PX', ms(ch.new - now)) end
end

-- Budget: slots of width w in one hash, slot index -> units; the oldest partial slot counts.
check.b = function(ch)
  local w, slots, limit, window = ch.a, ch.b, ch.c, ch.d
  local cur = floor(now / w)
  local oldest = cur - slots
  local flat = call('HGETALL', ch.key)
  local live, total, newest = {}, 0, nil
  for j = 1, #flat, 2 do
    local idx, cnt = tonumber(flat[j]), tonumber(flat[j + 1])
    if idx < oldest then
      call('HDEL', ch.key, flat[j])
    else
      total = total + cnt
      live[#live + 1] = { idx, cnt }
      if not newest or idx > newest then newest = idx end
    end
  end
  ch.cur = cur
  if ch.cost > limit then
    ch.retry = window
  elseif total + ch.cost <= limit then
    ch.retry = 0
  else
    table.sort(live, function(x, y) return x[1] < y[1] end)
    local need, freed = total + ch.cost - limit, 0
    for _, slot in ipairs(live) do
      freed = freed + slot[2]
      if freed >= need then
        ch.retry = (slot[1] + slots + 1) * w - now
        break
      end
    end
  end
  ch.rem0, ch.reset0 = nonneg(limit - total), 0
  if total > 0 then ch.reset0 = (newest + slots + 1) * w - now end
  ch.rem1, ch.reset1 = nonneg(limit - total - ch.cost), ch.reset0
  if ch.cost > 0 then ch.reset1 = (math.max(cur, newest or cur) + slots + 1) * w - now end
end
commit.b = function(ch)
  if ch.cost > 0 then
    call('HINCRBY', ch.key, string.format('%d', ch.cur), ch.cost)
    call('PEXPIRE', ch.key, ms(ch.reset1))
  end
end

-- Distinct, exact: sorted set member -> last seen.
check.d = function(ch)
  local window, limit = ch.a, ch.b
  call('ZREMRANGEBYSCORE', ch.key, '-inf', now - window)
  local count = call('ZCARD', ch.key)
  local new = 0
  if #ch.members > 0 and count > 0 then
    for _, score in ipairs(chunks('ZMSCORE', ch.key, ch.members)) do
      if not score then new = new + 1 end
    end
  else
    new = #ch.members
  end
  ch.cost = new
  if new > limit then
    ch.retry = window
  elseif count + new <= limit then
    ch.retry = 0
  else
    local need = count + new - limit
    local oldest = call('ZRANGE', ch.key, need - 1, need - 1, 'WITHSCORES')
    ch.retry = tonumber(oldest[2]) + window - now
  end
  ch.rem0, ch.reset0 = nonneg(limit - count), 0
  if count > 0 then
    local newest = call('ZRANGE', ch.key, -1, -1, 'WITHSCORES')
    ch.reset0 = nonneg(tonumber(newest[2]) + window - now)
  end
  ch.rem1, ch.reset1 = nonneg(limit - count - new), ch.reset0
  if #ch.members > 0 then ch.reset1 = window end
end
commit.d = function(ch)
  if #ch.members > 0 then
    local pairs_ = {}
    for _, m in ipairs(ch.members) do
      pairs_[#pairs_ + 1] = now
      pairs_[#pairs_ + 1] = m
    end
    chunks('ZADD', ch.key, pairs_)
    call('PEXPIRE', ch.key, ms(ch.a))
  end
end

-- Distinct, approximate: one HyperLogLog per slot, the union of the live ones counted.
check.h = function(ch)
  local w, slots, limit, window = ch.a, ch.b, ch.c, ch.d
  local cur = floor(now / w)
  local keys = {}
  for idx = cur - slots, cur do keys[#keys + 1] = ch.key .. ':' .. string.format('%d', idx) end
  local tmp = ch.key .. ':tmp'
  call('PFMERGE', tmp, unpack(keys))
  local count = call('PFCOUNT', tmp)
  local new = 0
  if #ch.members > 0 then
    chunks('PFADD', tmp, ch.members)
    new = nonneg(call('PFCOUNT', tmp) - count)
  end
  call('DEL', tmp)
  ch.cost, ch.cur, ch.slotkey = new, cur, keys[#keys]
  if new > limit then
    ch.retry = window
  elseif count + new <= limit then
    ch.retry = 0
  else
    ch.retry = (cur + slots + 1) * w - now
    for j = 1, #keys - 1 do -- oldest first: when would the remaining slots leave room?
      if call('PFCOUNT', unpack(keys, j + 1)) + new <= limit then
        ch.retry = (cur - slots + j - 1 + slots + 1) * w - now
        break
      end
    end
  end
  ch.rem0, ch.reset0 = nonneg(limit - count), 0
  for j = #keys, 1, -1 do
    if call('EXISTS', keys[j]) == 1 then
      ch.reset0 = (cur - slots + j - 1 + slots + 1) * w - now
      break
    end
  end
  ch.rem1, ch.reset1 = nonneg(limit - count - new), ch.reset0
  if #ch.members > 0 then ch.reset1 = (cur + slots + 1) * w - now end
end
commit.h = function(ch)
  if #ch.members > 0 then
    chunks('PFADD', ch.slotkey, ch.members)
    call('PEXPIRE', ch.slotkey, ms(ch.reset1))
  end
end

-- Counter: a hash {n = units, x = expiry}, created by its first use.
check.c = function(ch)
  local ttl, limit = ch.a, ch.b
  local v = call('HMGET', ch.key, 'n', 'x')
  local cnt, exp = tonumber(v[1]) or 0, tonumber(v[2]) or 0
  if exp <= now then cnt, exp = 0, 0 end
  ch.live = exp > now
  if ch.cost > limit then
    ch.retry = ttl
  elseif cnt + ch.cost <= limit then
    ch.retry = 0
  else
    ch.retry = exp - now
  end
  ch.rem0, ch.reset0 = nonneg(limit - cnt), 0
  if ch.live then ch.reset0 = exp - now end
  ch.rem1, ch.reset1 = nonneg(limit - cnt - ch.cost), ch.reset0
  if ch.cost > 0 and not ch.live then ch.reset1 = ttl end
end
commit.c = function(ch)
  if ch.cost > 0 then
    if ch.live then
      call('HINCRBY', ch.key, 'n', ch.cost)
    else
      call('HSET', ch.key, 'n', ch.cost, 'x', now + ch.a)
      call('PEXPIRE', ch.key, ms(ch.a))
    end
  end
end

-- Weigh every charge against the current state.
local n = tonumber(head[2])
local charges, refused, pos, member = {}, -1, 7, 2
for i = 1, n do
  local flags, nm = tonumber(head[pos + 1]), tonumber(head[pos + 7])
  local ch = {
    kind = head[pos], key = KEYS[i], cost = tonumber(head[pos + 2]),
    enforce = flags % 2 == 1, peek = flags >= 2,
    a = tonumber(head[pos + 3]), b = tonumber(head[pos + 4]),
    c = tonumber(head[pos + 5]), d = tonumber(head[pos + 6]),
    members = {},
  }
  for j = 1, nm do ch.members[j] = ARGV[member + j - 1] end
  member = member + nm
  pos = pos + 8
  check[ch.kind](ch)
  if ch.retry > 0 and ch.enforce and refused < 0 then refused = i - 1 end
  charges[i] = ch
end

-- The penalty: an active block refuses outright; a refusal adds a strike.
local blocked = 0
if head[3] == '1' then
  local strikes_key, block_key = KEYS[n + 1], KEYS[n + 2]
  local strikes, within, block = tonumber(head[4]), tonumber(head[5]), tonumber(head[6])
  local untl = tonumber(call('GET', block_key))
  if untl and untl > now then
    blocked, refused = untl - now, -1
  elseif refused >= 0 then
    call('RPUSH', strikes_key, now)
    call('LTRIM', strikes_key, -strikes, -1)
    if call('LLEN', strikes_key) >= strikes and tonumber(call('LINDEX', strikes_key, 0)) > now - within then
      call('SET', block_key, now + block, 'PX', ms(block))
      call('DEL', strikes_key)
      blocked = block
    else
      call('PEXPIRE', strikes_key, ms(within))
    end
  end
end

local allowed = refused < 0 and blocked == 0
local out = { now, allowed and 1 or 0, refused, blocked }
for _, ch in ipairs(charges) do
  local fits = ch.retry == 0
  if allowed and fits and not ch.peek then
    commit[ch.kind](ch)
    ch.rem0, ch.reset0 = ch.rem1, ch.reset1
  end
  out[#out + 1] = fits and 1 or 0
  out[#out + 1] = ch.rem0
  out[#out + 1] = ch.reset0
  out[#out + 1] = ch.retry
end
for i = 1, #out do out[i] = string.format('%d', out[i]) end
return table.concat(out, ' ')
