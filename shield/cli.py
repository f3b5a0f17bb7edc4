"""The ``shield`` command.

Exit codes: 0 success; 1 the command ran but failed (a server error, a token that does not
verify); 2 bad input (usage, an invalid policy file). Errors are one line on stderr, never a
traceback.
"""

from __future__ import annotations

import argparse
import secrets
import sys
import warnings
from collections.abc import Sequence
from dataclasses import replace

from shield.errors import PolicyError
from shield.policy import PaginationSettings, Policy, QuotaRule
from shield.quotas import Rate

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.handler(args)
    except PolicyError as exc:
        print(f"shield: invalid policy: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return EXIT_OK
    return code


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="shield", description="Harden ASGI APIs against bulk scraping.")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    demo = commands.add_parser("demo", help="serve the demo API on 127.0.0.1")
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=8000)
    demo.add_argument("--policy", metavar="FILE", help="a policy file instead of the bundled example")
    demo.add_argument("--unprotected", action="store_true", help="serve without shield, for comparison")
    demo.add_argument(
        "--redis", metavar="URL", help="keep quotas and replay counts in Redis (redis://127.0.0.1:6379/0)"
    )
    demo.set_defaults(handler=_demo)

    keys = commands.add_parser("keys", help="key management").add_subparsers(required=True, metavar="ACTION")
    generate = keys.add_parser("generate", help="print a new random secret")
    generate.set_defaults(handler=_keys_generate)

    token = commands.add_parser("token", help="tokens").add_subparsers(required=True, metavar="ACTION")
    inspect = token.add_parser("inspect", help="verify a cursor or sealed ID with a policy's keys and show it")
    inspect.add_argument("token")
    inspect.add_argument("--policy", metavar="FILE", required=True, help="the policy whose [tokens] keys to use")
    inspect.set_defaults(handler=_token_inspect)

    policy = commands.add_parser("policy", help="policy files").add_subparsers(required=True, metavar="ACTION")
    check = policy.add_parser("check", help="validate a policy file")
    check.add_argument("file")
    check.set_defaults(handler=_policy_check)
    return parser


def _keys_generate(args: argparse.Namespace) -> int:
    print(secrets.token_urlsafe(32))
    return EXIT_OK


def _load_policy(path: str) -> Policy:
    """Load a policy file; its warnings (demo mode) become one line each on stderr."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        policy = Policy.from_toml(path)
    for warning in caught:
        print(f"shield: warning: {warning.message}", file=sys.stderr)
    return policy


def _token_inspect(args: argparse.Namespace) -> int:
    from shield.compiled import CompiledPolicy  # noqa: PLC0415  # only this command needs the keys
    from shield.tokens.inspect import inspect_token  # noqa: PLC0415

    policy = _load_policy(args.policy)
    codec = CompiledPolicy(policy).token_codec
    if codec is None:
        print(f"shield: {args.policy} has no [tokens] secrets", file=sys.stderr)
        return EXIT_BAD_INPUT
    kinds = {seal.kind for seal in policy.seal}
    for route in policy.routes:
        kinds |= {seal.kind for seal in route.seal} | {param.kind for param in route.unseal}
    found = inspect_token(codec, args.token, ["cursor", *(f"record-id:{kind}" for kind in sorted(kinds))])
    if found.purpose is None:
        print(f"invalid: {found.reason}" + (f" (key {found.key_id}, epoch {found.epoch})" if found.key_id else ""))
        return EXIT_FAILED
    print(f"valid {found.purpose} token (key {found.key_id}, epoch {found.epoch})")
    for name, value in found.fields.items():
        print(f"  {name}: {value}")
    return EXIT_OK


def _policy_check(args: argparse.Namespace) -> int:
    policy = _load_policy(args.file)
    print(f"{args.file}: valid")
    for rule in policy.mask:
        print(f"  everywhere: mask {rule.field!r} as {rule.kind}")
    for seal in policy.seal:
        print(f"  everywhere: seal {seal.field!r} as {seal.kind} IDs")
    for route in policy.routes:
        methods = ",".join(sorted(route.methods)) if route.methods else "any method"
        parts = ["masked" if route.masking else "NOT masked"]
        parts += [f"{r.field!r} as {r.kind}" for r in route.mask]
        parts += [f"seal {s.field!r} as {s.kind} IDs" for s in route.seal]
        parts += [f"open {u.param!r} as a sealed {u.kind} ID (raw IDs {u.raw}d)" for u in route.unseal]
        if route.pagination is not None:
            parts.append(_describe_pagination(route.pagination))
        print(f"  {route.path} ({methods}): " + "; ".join(parts))
    for quota in policy.quota:
        print("  " + _describe_quota(quota))
    return EXIT_OK


def _describe_quota(quota: QuotaRule) -> str:
    unit = {"requests": "requests", "records": "records", "distinct": "distinct records"}[quota.kind]
    burst = f" (bursts of {quota.spec.burst})" if isinstance(quota.spec, Rate) and quota.spec.burst else ""
    where = ", ".join(quota.routes) + (f" as group {quota.group!r}" if quota.group else " (each route on its own)")
    mode = "shadow: logged, never refused" if quota.shadow else f"store outage: {quota.outage}"
    return (
        f"quota {quota.name!r}: {quota.limit} {unit} per {quota.window:g} s{burst} for each "
        f"{'/'.join(quota.per)} key, on {where}; {mode}"
    )


def _describe_pagination(paging: PaginationSettings) -> str:
    native = "first page only" if paging.native == "first-page" else "never"
    words = f"paginated by {paging.style} ({paging.param!r}) behind {paging.cursor_param!r} cursors, native {native}"
    if paging.size_param is not None:
        cap = f" capped at {paging.max_size}" if paging.max_size is not None else ""
        words += f", page size {paging.size_param!r}{cap}"
    if paging.totals != "keep":
        words += f", totals {paging.totals}"
    if paging.last == "drop":
        words += ", last links dropped"
    return words


def _demo(args: argparse.Namespace) -> int:
    try:
        import uvicorn  # noqa: PLC0415  # optional: installed by the "server" extra
    except ImportError:
        print("shield: the demo needs uvicorn: pip install 'asgi-shield[server]'", file=sys.stderr)
        return EXIT_FAILED
    from shield.demo.app import create_app, create_protected_app, demo_policy  # noqa: PLC0415

    policy = _load_policy(args.policy) if args.policy else demo_policy()
    if args.redis:
        policy = replace(policy, quotas=replace(policy.quotas, store="redis", redis_url=args.redis))
    app = create_app() if args.unprotected else create_protected_app(policy=policy)
    state = "UNPROTECTED" if args.unprotected else f"protected by shield, quotas in {policy.quotas.store}"
    print(f"shield demo ({state}) on http://{args.host}:{args.port}/users  (Ctrl-C to stop)")
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
