"""After `make demo`: start `pmu ui` on the project's instance, ask its GraphQL API which assets
are materialised and which checks were evaluated, and take screenshots of the asset catalog and
of a few asset pages with headless Chromium (Debian's /usr/bin/chromium).

    .venv/bin/python scripts/dagster_screenshots.py [--out DIR] [--port 3123]

Exits 1 when an asset was never materialised or a check never evaluated. Uses PMU_HOME like every
`pmu` command (the demo's instance is PMU_HOME/dagster)."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--window-size=1600,1000",
    "--virtual-time-budget=20000",
]
PAGES = {
    "catalog": "/assets",
    "asset_graph": "/asset-groups",
    "race": "/assets/marts/race",
    "model": "/assets/modeling/model",
    "predictions": "/assets/modeling/predictions",
    "runs": "/runs",
}
QUERY = """{ assetNodes { assetKey { path } assetMaterializations(limit: 1) { timestamp }
  assetChecksOrError { ... on AssetChecks { checks { name
    executionForLatestMaterialization { status } } } } } }"""


def graphql(port: int, query: str) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("screenshots"))
    parser.add_argument("--port", type=int, default=3123)
    parser.add_argument("--startup-seconds", type=float, default=400)
    args = parser.parse_args()
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    args.out.mkdir(parents=True, exist_ok=True)
    ui = subprocess.Popen(
        [sys.executable, "-m", "pmu_cli.main", "ui", "--port", str(args.port)],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline, nodes = time.monotonic() + args.startup_seconds, None
        while time.monotonic() < deadline and ui.poll() is None:
            try:
                answer = graphql(args.port, QUERY)
                if answer.get("errors"):
                    print(json.dumps(answer["errors"])[:2000], file=sys.stderr)
                    return 2
                nodes = answer["data"]["assetNodes"]
                if nodes:
                    break
            except OSError:
                time.sleep(3)
        if not nodes:
            print("the Dagster UI did not answer", file=sys.stderr)
            return 2
        never = ["/".join(n["assetKey"]["path"]) for n in nodes if not n["assetMaterializations"]]
        checks = [
            (
                ("/".join(n["assetKey"]["path"])),
                c["name"],
                (c["executionForLatestMaterialization"] or {}).get("status"),
            )
            for n in nodes
            for c in (n.get("assetChecksOrError") or {}).get("checks", [])
        ]
        unevaluated = [f"{a}:{c}" for a, c, status in checks if status is None]
        statuses: dict[str, int] = {}
        for _, _, status in checks:
            statuses[str(status)] = statuses.get(str(status), 0) + 1
        print(
            f"{len(nodes)} assets, {len(nodes) - len(never)} materialised; {len(checks)} checks: {statuses}"
        )
        for name, path in PAGES.items():
            target = args.out / f"{name}.png"
            subprocess.run(
                [chromium, *CHROMIUM_FLAGS, f"--screenshot={target}", f"http://127.0.0.1:{args.port}{path}"],
                check=True,
                capture_output=True,
                timeout=180,
            )
            print(f"screenshot {target} ({target.stat().st_size} bytes)")
        if never or unevaluated:
            print(f"never materialised: {never}\ncheck never evaluated: {unevaluated}", file=sys.stderr)
            return 1
        return 0
    finally:
        os.killpg(ui.pid, signal.SIGTERM)
        try:
            ui.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(ui.pid, signal.SIGKILL)


if __name__ == "__main__":
    sys.exit(main())
