"""The ``shield`` command.

Exit codes: 0 success; 1 the command ran but failed (a server error); 2 bad input
(usage, an invalid policy file). Errors are one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import secrets
import sys
from collections.abc import Sequence

from shield.errors import PolicyError
from shield.policy import Policy

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
    demo.set_defaults(handler=_demo)

    keys = commands.add_parser("keys", help="key management").add_subparsers(required=True, metavar="ACTION")
    generate = keys.add_parser("generate", help="print a new random secret")
    generate.set_defaults(handler=_keys_generate)

    policy = commands.add_parser("policy", help="policy files").add_subparsers(required=True, metavar="ACTION")
    check = policy.add_parser("check", help="validate a policy file")
    check.add_argument("file")
    check.set_defaults(handler=_policy_check)
    return parser


def _keys_generate(args: argparse.Namespace) -> int:
    print(secrets.token_urlsafe(32))
    return EXIT_OK


def _policy_check(args: argparse.Namespace) -> int:
    policy = Policy.from_toml(args.file)
    print(f"{args.file}: valid")
    for rule in policy.mask:
        print(f"  everywhere: mask {rule.field!r} as {rule.kind}")
    for route in policy.routes:
        methods = ",".join(sorted(route.methods)) if route.methods else "any method"
        state = "masked" if route.masking else "NOT masked"
        print(f"  {route.path} ({methods}): {state}" + "".join(f"; {r.field!r} as {r.kind}" for r in route.mask))
    return EXIT_OK


def _demo(args: argparse.Namespace) -> int:
    try:
        import uvicorn  # noqa: PLC0415  # optional: installed by the "server" extra
    except ImportError:
        print("shield: the demo needs uvicorn: pip install 'asgi-shield[server]'", file=sys.stderr)
        return EXIT_FAILED
    from shield.demo.app import create_app, create_protected_app  # noqa: PLC0415

    policy = Policy.from_toml(args.policy) if args.policy else None
    app = create_app() if args.unprotected else create_protected_app(policy=policy)
    state = "UNPROTECTED" if args.unprotected else "protected by shield"
    print(f"shield demo ({state}) on http://{args.host}:{args.port}/users  (Ctrl-C to stop)")
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
