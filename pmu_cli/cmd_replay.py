"""`pmu replay-server --root DIR [--port N] [--faults RATE]`."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
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
    parser.add_argument(
        "--exit-with-parent", action="store_true", help="stop when the process that started it ends"
    )
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
    if args.exit_with_parent:
        _stop_when_orphaned(httpd)
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        httpd.server_close()
    return 0


def _stop_when_orphaned(httpd: ReplayHTTPServer, every: float = 0.5) -> None:
    """Shut the server down once its parent has gone (the parent id changes when it dies): `pmu ui
    --replay` becomes `dagster dev`, and the server must end with it however it is stopped."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(every)
        httpd.shutdown()

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def start_replay_process(root: Path, *, port: int = 0) -> tuple[subprocess.Popen, str]:
    """`pmu replay-server --root ROOT --exit-with-parent` as a child process on 127.0.0.1; returns
    (process, base URL) once it listens. It ends when this process (or what it execs into) ends."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pmu_cli.main",
            "replay-server",
            "--root",
            str(root),
            "--port",
            str(port),
            "--exit-with-parent",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    first_line = process.stdout.readline()  # "replay server on URL serving ROOT"
    if " on " not in first_line:
        process.kill()
        raise RuntimeError(f"the replay server did not start: {first_line!r}")
    return process, first_line.split(" on ", 1)[1].split(" serving", 1)[0]
