"""The scraping simulation: six scrapers against the demo API, unprotected and behind shield.

    .venv/bin/python -m benchmarks.scraping                       # 100,000 users, ~4 min wall (2 cores)
    .venv/bin/python -m benchmarks.scraping --users 10000 --max-requests 5000 --days 2 --shared-people 0

Each scraper runs against ``create_app(users)`` as is and behind shield with the demo policy
(``demo_policy()``, in-memory quota store, the enumeration detector on), in-process through
``httpx.ASGITransport``, until it has every user, or has sent ``--max-requests`` requests, or
``--days`` of **simulated** time have passed. Time is simulated (``benchmarks/simulation.py``):
hours and days pass in seconds. Behind shield, the run's ``shield.events`` tell when the detector
flagged, slowed and blocked each scraper. Then ``--people`` ordinary users browse the protected
API for a simulated day (``OrdinaryUsers``), each from an address of their own: the control
group, which the detector should leave alone; and ``--shared-people`` more do the same behind one
shared IPv4 address (a carrier-grade NAT), where the network-keyed quotas are shared. Writes
``benchmarks/results/scraping.json`` and ``scraping.md`` and prints the tables.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.scrapers import (
    ApiKeys,
    CursorRelay,
    FixedPeer,
    IdWalker,
    ListCrawler,
    OrdinaryUsers,
    PeerPerSlot,
    RotatingIPv6,
    Scraper,
    SpoofedForwardedFor,
)
from benchmarks.simulation import (
    DAY,
    HORIZON_DAYS,
    LEVELS,
    SIMULATED_SLOW_SECONDS,
    TARGET_RECORDS,
    DetectorTrace,
    Limits,
    Milestone,
    RunResult,
    SeededPhones,
    SimulatedClock,
    build_target,
    simulate,
)
from shield.demo.app import create_app, demo_policy
from shield.demo.data import users as seeded_users

RESULTS = Path(__file__).parent / "results"
REFUSALS = (400, 403, 410, 429, 502)
API_KEYS = 50
RELAY_IDENTITIES = 5
IPV6_NETWORK = ipaddress.IPv6Network("2001:db8:1:2::/64")
PEOPLE = 1000
SHARED_PEOPLE = 2000  # behind one address: enough to exceed the network-keyed budgets
PEOPLE_LIMITS = Limits(max_requests=10_000_000, days=3.0)  # sessions start within one day; all end

ScraperFactory = Callable[[int], Scraper]

SCRAPERS: dict[str, ScraperFactory] = {
    "offsets": lambda users: ListCrawler("1. naive offset crawler", FixedPeer("198.51.100.7")),
    "ids": lambda users: IdWalker("2. sequential-ID walker", FixedPeer("198.51.100.8"), count=users),
    "api-keys": lambda users: ListCrawler(
        f"3. {API_KEYS} API keys, round-robin",
        ApiKeys([f"scraper-key-{n:02d}" for n in range(API_KEYS)], "198.51.100.9"),
        slots=API_KEYS,
    ),
    # Identities: one /64, what one subscriber is delegated, however many addresses it uses.
    "ipv6": lambda users: ListCrawler("4. rotating IPv6 in one /64", RotatingIPv6(IPV6_NETWORK), identities=1),
    "xff": lambda users: ListCrawler("5. spoofed X-Forwarded-For", SpoofedForwardedFor("198.51.100.10")),
    "relay": lambda users: CursorRelay(
        f"6. cursors shared by {RELAY_IDENTITIES} identities",
        PeerPerSlot([f"203.0.113.{10 + n}" for n in range(RELAY_IDENTITIES)]),
        slots=RELAY_IDENTITIES,
    ),
}
DESCRIPTIONS = {
    "offsets": "`/users?offset=N&limit=100` while offsets are accepted, then the `next` links it is given; "
    "starts again at `offset=0` when a link is refused or expired.",
    "ids": "`/users/100000`, `/users/100001`, ... one request per id.",
    "api-keys": f"the offset crawler with {API_KEYS} `x-api-key`s from one IPv4 address, one key per request in "
    "turn, each key following its own links.",
    "ipv6": "the offset crawler from a new random address of `2001:db8:1:2::/64` on every request "
    "(identities: one /64).",
    "xff": "the offset crawler from one address, claiming a random `X-Forwarded-For` on every request "
    "(the demo trusts no proxy).",
    "relay": f"one walk passed between {RELAY_IDENTITIES} addresses: each request uses the latest `next` link, "
    "whoever harvested it; an identity refused with a link does not retry it.",
}
APIS = ("unprotected", "protected")


async def run_all(
    users: int,
    limits: Limits,
    names: Sequence[str],
    apis: Sequence[str],
    *,
    people: int = 0,
    shared_people: int = 0,
) -> dict[str, Any]:
    started = time.perf_counter()
    people_data = seeded_users(users)
    phones = SeededPhones(people_data)
    inner = create_app(users)  # stateless: one instance serves every run
    build_seconds = time.perf_counter() - started
    policy = demo_policy()
    runs: list[RunResult] = []
    for name in names:
        for api in apis:
            clock = SimulatedClock()
            target = build_target(inner, clock, policy if api == "protected" else None)
            result = await simulate(SCRAPERS[name](users), target, clock, phones, limits)
            runs.append(result)
            print(
                f"  {result.scraper} / {api}: {result.records:,} users, {result.requests:,} requests, "
                f"{result.wall_seconds:.1f} s",
                flush=True,
            )
    crowds: list[dict[str, Any]] = []
    for count, addresses in ((people, None), (shared_people, 1)):
        if count <= 0:
            continue
        where = "each from an address of their own" if addresses is None else "behind one shared IPv4 address"
        crowd = OrdinaryUsers(f"{count:,} people, {where}", count, networks=addresses)
        clock = SimulatedClock()
        result = await simulate(crowd, build_target(inner, clock, policy), clock, phones, PEOPLE_LIMITS)
        crowds.append(_people_json(crowd, result, addresses))
        print(
            f"  {crowd.name}: {result.requests:,} requests, {crowds[-1]['refused_requests']:,} refused, "
            f"{crowds[-1]['flagged']} flagged, {result.wall_seconds:.1f} s",
            flush=True,
        )
    detector = policy.detector
    return {
        "generated": datetime.now(UTC).isoformat(timespec="seconds"),
        "time": "simulated: one clock drives shield's tokens and quota store; it moves by the pace after "
        "each request and jumps to the next Retry-After when every identity of a scraper rests",
        "settings": {
            **asdict(limits),
            "users": users,
            "scrapers": list(names),
            "apis": list(apis),
            "people": people,
            "shared_people": shared_people,
        },
        "detector": {
            "enabled": detector.enabled,
            "flag": detector.flag,
            "slow": detector.slow,
            "block": detector.block,
            "block_seconds": detector.block_seconds,
            "window": detector.window,
            "slow_seconds": detector.slow_seconds,
            "slow_seconds_simulated": min(detector.slow_seconds, SIMULATED_SLOW_SECONDS),
            "note": "slow_seconds is a real asyncio.sleep that the simulated clock does not see: the simulation "
            "runs with it lowered, so simulated times after the slow level understate a real run by at most "
            "slow_seconds per request sent after it (blocked_bound_s)",
        },
        "scrapers": {SCRAPERS[name](users).name: DESCRIPTIONS[name] for name in names},
        "target_records": TARGET_RECORDS,
        "horizon_days": HORIZON_DAYS,
        "formula": {
            "rate": "distinct found / (identities x simulated days)  [per identity per simulated day]",
            "identity_days": "target / rate",
            "days": "identity_days / identities  [with the scraper's own identities]",
            "identities_for_horizon": f"ceil(identity_days / {HORIZON_DAYS})  [to finish in ~8 months]",
            "never": "nothing obtained, or (records) nothing new during the second half of the run",
        },
        "app_build_seconds": round(build_seconds, 2),
        "wall_seconds": round(time.perf_counter() - started, 1),
        "python": platform.python_version(),
        "runs": [_run_json(run) for run in runs],
        "ordinary_users": crowds,
    }


def _milestone_json(milestone: Milestone | None) -> dict[str, Any] | None:
    if milestone is None:
        return None
    return {"requests": milestone.requests, "simulated_seconds": round(milestone.simulated_seconds, 1)}


def _detector_json(trace: DetectorTrace) -> dict[str, Any]:
    blocked = trace.blocked
    return {
        **{level: _milestone_json(trace.first.get(level)) for level in LEVELS},
        "first_429": _milestone_json(trace.first_refusal),
        "blocked": _milestone_json(blocked),
        "blocked_bound_s": round(trace.slow_time_bound(blocked), 1),
        "identities": {level: trace.identities(level) for level in LEVELS},
        "escalations": dict(sorted(trace.escalations.items())),
        "refusals_429": trace.refusals,
    }


def _people_json(crowd: OrdinaryUsers, run: RunResult, addresses: int | None) -> dict[str, Any]:
    trace = run.detector
    assert trace is not None  # the demo policy has the detector on
    escalated = len(trace.reached)
    return {
        "name": crowd.name,
        "people": crowd.people,
        "addresses": addresses if addresses is not None else crowd.people,
        "sessions": crowd.sessions,
        "requests": run.requests,
        "statuses": {str(status): count for status, count in sorted(run.statuses.items())},
        "refused_requests": sum(crowd.refused.values()),
        "people_refused": len(crowd.refused),
        "refusals": dict(sorted(crowd.refusals.items())),
        "stale_clicks": crowd.stale_clicks,
        "flagged": escalated,
        "identities": {level: trace.identities(level) for level in LEVELS},
        "escalations": dict(sorted(trace.escalations.items())),
        "refusals_429": trace.refusals,
        "false_flag_rate": escalated / crowd.people if crowd.people else 0.0,
        "stop": run.stop,
        "simulated_seconds": round(run.simulated_seconds, 1),
        "wall_seconds": round(run.wall_seconds, 2),
    }


def _run_json(run: RunResult) -> dict[str, Any]:
    data = asdict(run)
    data["statuses"] = {str(status): count for status, count in sorted(run.statuses.items())}
    data["problems"] = dict(sorted(run.problems.items()))
    data["simulated_seconds"] = round(run.simulated_seconds, 1)
    data["wall_seconds"] = round(run.wall_seconds, 2)
    data["last_new_record_at"] = round(run.last_new_record_at, 1)
    data["stalled"] = run.stalled
    data["detector"] = _detector_json(run.detector) if run.detector is not None else None
    return data


# -- report ------------------------------------------------------------------------------------


def markdown(report: dict[str, Any]) -> str:
    settings = report["settings"]
    lines = [
        "# Scraping simulation",
        "",
        f"{report['generated']}, `.venv/bin/python -m benchmarks.scraping --users {settings['users']} "
        f"--max-requests {settings['max_requests']} --days {settings['days']:g} --people {settings['people']} "
        f"--shared-people {settings['shared_people']}` "
        f"({report['wall_seconds']:.0f} s wall). **Time is simulated**: every scraper sends one request "
        f"per {settings['pace']:g} simulated seconds and sleeps (simulated) for `Retry-After` on a 429; "
        f"it stops when it has all {settings['users']:,} users, after {settings['max_requests']:,} requests "
        f"or after {settings['days']:g} simulated days. Protected: the demo policy (`shield/demo/policy.toml`, "
        "enumeration detector on), in-memory store.",
        "",
        *(f"- **{name}**: {text}" for name, text in report["scrapers"].items()),
        "",
        "Users obtained: distinct user IDs the app answered with in responses the client received (2xx). "
        "Phones in clear: seeded phone numbers whose exact 11 digits appear in a response body.",
        "",
        "| scraper | API | identities | users obtained | phones in clear | requests "
        + "".join(f"| {status} " for status in REFUSALS)
        + "| stopped by | simulated time | wall s |",
        "|---|---|--:|--:|--:|--:|" + "--:|" * len(REFUSALS) + "---|--:|--:|",
    ]
    runs = report["runs"]
    for run in runs:
        statuses = run["statuses"]
        lines.append(
            f"| {run['scraper']} | {run['api']} | {run['identities']} | {run['records']:,} | "
            f"{run['clear_phones']:,} | {run['requests']:,} "
            + "".join(f"| {statuses.get(str(status), 0):,} " for status in REFUSALS)
            + f"| {run['stop']} | {_duration(run['simulated_seconds'])} | {run['wall_seconds']:.1f} |"
        )
    lines += [
        "",
        f"## Extrapolated to {report['target_records']:,} records",
        "",
        "Rate = distinct found / (identities x simulated days); identity-days = 1.1e9 / rate; "
        f"days = identity-days / the scraper's identities; identities for ~8 months = "
        f"ceil(identity-days / {report['horizon_days']}). Linear: it assumes each added identity gets as "
        "much as the measured ones. *Never*: nothing obtained, or nothing new during the second half of "
        "the run (the walk keeps restarting at the first page). Unprotected rates are bounded by the "
        f"pace ({settings['pace']:g} s per request per scraper), not by the API.",
        "",
        "| scraper | API | users / identity / day | identity-days | days with its identities "
        "| identities for 8 months | phones: identity-days |",
        "|---|---|--:|--:|--:|--:|--:|",
    ]
    for run in runs:
        records = run["records_extrapolation"]
        phones = run["phones_extrapolation"]
        rate = f"{records['rate']:,.0f}" if records["rate"] is not None else "-"
        lines.append(
            f"| {run['scraper']} | {run['api']} | {rate} | {_days(records)} | "
            f"{_number(records['days'])} | {_number(records['identities_for_horizon'])} | {_days(phones)} |"
        )
    lines += ["", "Refusals by problem type (protected runs):", ""]
    for run in runs:
        if run["api"] == "protected" and run["problems"]:
            counted = ", ".join(f"{name}: {count:,}" for name, count in run["problems"].items())
            lines.append(f"- {run['scraper']}: {counted}")
    lines += _detector_lines(report)
    lines += _people_lines(report)
    return "\n".join(lines) + "\n"


def _detector_lines(report: dict[str, Any]) -> list[str]:
    detector = report["detector"]
    traced = [run for run in report["runs"] if run.get("detector") is not None]
    if not detector["enabled"] or not traced:
        return []
    lines = [
        "",
        "## The enumeration detector",
        "",
        f"Demo thresholds: flag {detector['flag']}, slow {detector['slow']}, block {detector['block']} points "
        f"in {_duration(detector['window'])}, blocks of {_duration(detector['block_seconds'])}. From the "
        "`shield.events` of each protected run (a handler on the logger at INFO): *N req / T* is the request "
        "during which the scraper (any of its identities) first reached the level, counting from 1, and the "
        "simulated time it was sent, from the start of the run. A level implies the ones below it. *blocked*: "
        "the `block` escalation (the first `429 abnormal-usage-detected` comes with the identity's next "
        "request). *Identities*: how many of the scraper's identities reached flag / slow / block. "
        f"**`slow_seconds` is {_short(detector['slow_seconds'])} in the policy but "
        f"{_short(detector['slow_seconds_simulated'])} in the simulation**: it is a real `asyncio.sleep` the "
        "simulated clock does not see (a run could sleep for up to an hour of wall time, and no simulated time). Times "
        "after the slow level are therefore short by at most the delay per request sent after it: "
        "*real <=* adds that bound to the time to block.",
        "",
        "| scraper | identities | flagged after | slowed after | blocked after | real <= | "
        "identities flagged / slowed / blocked | 429 abnormal-usage-detected |",
        "|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for run in traced:
        trace = run["detector"]
        blocked = trace["blocked"]
        bound = (
            _duration(blocked["simulated_seconds"] + trace["blocked_bound_s"])
            if blocked is not None and trace["blocked_bound_s"]
            else "-"
        )
        reached = " / ".join(str(trace["identities"][level]) for level in LEVELS)
        lines.append(
            f"| {run['scraper']} | {run['identities']} | {_milestone(trace['flag'])} | {_milestone(trace['slow'])} "
            f"| {_milestone(blocked)} | {bound} | {reached} | {trace['refusals_429']:,} |"
        )
    return lines


def _people_lines(report: dict[str, Any]) -> list[str]:
    crowds = report.get("ordinary_users") or []
    if not crowds:
        return []
    lines = [
        "",
        "## Ordinary users (the control group)",
        "",
        "Signed-in people (`x-demo-user`) browse the protected API over one simulated day (`OrdinaryUsers` in "
        "`benchmarks/scrapers.py`): 1-4 sessions each at random moments; a session loads `/me`, the first page "
        "of `/users` or `/comments` (`limit=20`), opens 0-3 profiles per page through the sealed IDs the page "
        "offers, follows `next` for 1-6 pages, sometimes `/me` again; log-normal think times (median 15 s); 3 % "
        "of `next` clicks come after the page was left open 20-90 minutes (past the 15-minute cursor lifetime): "
        "a refused link sends the person back to the first page. A 429 is waited out (`Retry-After`) and the "
        "click retried twice at most. Same policy, store and detector as the scrapers above. *False-flag "
        "rate*: people who got any `shield.escalated` event (flag, slow or block) / people.",
        "",
        "| people | addresses | sessions | requests | refused requests | people refused at least once "
        "| flagged / slowed / blocked | false-flag rate |",
        "|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for crowd in crowds:
        levels = " / ".join(str(crowd["identities"][level]) for level in LEVELS)
        lines.append(
            f"| {crowd['people']:,} | {crowd['addresses']:,} | {crowd['sessions']:,} | {crowd['requests']:,} | "
            f"{crowd['refused_requests']:,} ({_share(crowd['refused_requests'], crowd['requests'])}) | "
            f"{crowd['people_refused']:,} ({_share(crowd['people_refused'], crowd['people'])}) | {levels} | "
            f"**{crowd['false_flag_rate']:.1%}** |"
        )
    lines += ["", "Refused, by click, status and problem type:", ""]
    for crowd in crowds:
        refusals = ", ".join(f"{name}: {count:,}" for name, count in crowd["refusals"].items()) or "none"
        lines.append(f"- {crowd['name']}: {refusals} (pages left open too long: {crowd['stale_clicks']:,})")
    return lines


def _milestone(milestone: dict[str, Any] | None) -> str:
    if milestone is None:
        return "never"
    return f"{milestone['requests']:,} req / {_duration(milestone['simulated_seconds'])}"


def _short(seconds: float) -> str:
    """A short delay, readably: 0.5 s, 1 µs."""
    return f"{seconds:g} s" if seconds >= 0.001 else f"{seconds * 1e6:g} µs"


def _share(part: int, whole: int) -> str:
    return f"{part / whole:.1%}" if whole else "-"


def _days(extrapolation: dict[str, Any]) -> str:
    if extrapolation["identity_days"] is None:
        reason = extrapolation["why_never"] or ""
        return "never" + (" (stalled)" if reason.startswith("stalled") else "")
    return _number(extrapolation["identity_days"])


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.1f}" if value < 100 else f"{value:,.0f}"


def _duration(seconds: float) -> str:
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    if seconds < DAY:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / DAY:.1f} d"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=100_000, help="users in the demo API (default 100000)")
    parser.add_argument("--max-requests", type=int, default=20_000, help="per scraper and API (default 20000)")
    parser.add_argument("--days", type=float, default=7.0, help="simulated days per scraper and API (default 7)")
    parser.add_argument("--pace", type=float, default=0.1, help="simulated seconds between requests (default 0.1)")
    parser.add_argument("--scrapers", default=",".join(SCRAPERS), help=f"subset of {','.join(SCRAPERS)}")
    parser.add_argument("--apis", default=",".join(APIS), help="unprotected,protected or one of them")
    parser.add_argument(
        "--people", type=int, default=PEOPLE, help=f"ordinary users browsing for a day, 0 for none (default {PEOPLE})"
    )
    parser.add_argument(
        "--shared-people",
        type=int,
        default=SHARED_PEOPLE,
        help=f"ordinary users behind one shared address, 0 for none (default {SHARED_PEOPLE})",
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="directory for scraping.json and scraping.md")
    args = parser.parse_args(argv)
    names = [name for name in args.scrapers.split(",") if name]
    apis = [api for api in args.apis.split(",") if api]
    unknown = sorted({*names} - set(SCRAPERS)) + sorted({*apis} - set(APIS))
    if unknown:
        parser.error(f"unknown: {', '.join(unknown)}")
    if max(args.people, args.shared_people) > args.users:
        parser.error("--people and --shared-people must not exceed --users: each person signs in as a user")
    limits = Limits(max_requests=args.max_requests, days=args.days, pace=args.pace)
    report = asyncio.run(run_all(args.users, limits, names, apis, people=args.people, shared_people=args.shared_people))
    table = markdown(report)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "scraping.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (args.out / "scraping.md").write_text(table, encoding="utf-8")
    print()
    print(table)


if __name__ == "__main__":
    main()
