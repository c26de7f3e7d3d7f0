"""`pmu replay-server --root DIR [--port N] [--faults RATE]`."""

from __future__ import annotations

from pathlib import Path

from pmu_core.replay_server import FAULT_KINDS, FaultPlan, ReplayHTTPServer


def register(subparsers) -> None:
    parser = subparsers.add_parser("replay-server", help="serve recorded PMU bodies over HTTP on 127.0.0.1")
    parser.add_argument("--root", type=Path, required=True, help="folder in the API's URL layout")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument("--faults", type=float, default=0.0, help="share of requests that get a fault")
    parser.add_argument(
        "--fault-kinds",
        default=",".join(FAULT_KINDS),
        help=f"comma-separated subset of {','.join(FAULT_KINDS)}",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the fault generator")
    parser.add_argument("--slow-seconds", type=float, default=3.0, help="delay of a 'slow' fault")
    parser.add_argument("--verbose-log", action="store_true", help="log every request")
    parser.set_defaults(func=_serve)


def _serve(args) -> int:
    faults = FaultPlan(
        rate=args.faults,
        kinds=tuple(k for k in args.fault_kinds.split(",") if k),
        seed=args.seed,
        slow_seconds=args.slow_seconds,
    )
    httpd = ReplayHTTPServer(
        args.root, host=args.host, port=args.port, faults=faults, verbose=args.verbose_log
    )
    # The first line tells a parent process (tests, make demo) where we listen.
    print(f"replay server on {httpd.base_url} serving {args.root}", flush=True)
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        httpd.server_close()
    return 0
