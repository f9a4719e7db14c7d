"""Profile `menderlite serve` under the load of one device figure with py-spy (`pip install py-spy`).

    python -m bench.profile check_in|auth_request|inventory_put|inventory_patch [--seconds S] [--out DIR]

Starts the server and the fleet as `bench.devices` does, replays the figure's requests with wrk while py-spy
samples the server (all threads, the database thread included, idle frames excluded), and writes
`DIR/profile-<figure>.txt` (collapsed stacks, for flamegraph tools or speedscope) and prints the functions
with the most samples: own time (where the CPU is spent) and inclusive time (what the request spends it in).
"""

from __future__ import annotations

import argparse
import collections
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from bench import devices
from bench.artifacts import management_token
from bench.common import replay
from bench.fleet import admit_fleet
from tests.support.server import start_server

BUILDERS = {
    "check_in": lambda host, fleet: devices.check_in_requests(host, fleet),
    "auth_request": lambda host, fleet: devices.auth_requests(host, fleet),
    "inventory_put": lambda host, fleet: devices.inventory_requests(host, fleet, "PUT"),
    "inventory_patch": lambda host, fleet: devices.inventory_requests(host, fleet, "PATCH"),
}


def summarise(collapsed: Path, top: int = 40) -> str:
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        frames = stack.split(";")
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    lines = [f"{total} samples", "", "own time:"]
    lines += [f"{count / total:6.1%}  {frame}" for frame, count in own.most_common(top)]
    lines += ["", "inclusive time:"]
    lines += [f"{count / total:6.1%}  {frame}" for frame, count in inclusive.most_common(top)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__.splitlines()[0])
    parser.add_argument("figure", choices=sorted(BUILDERS))
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--devices", type=int, default=200)
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    parser.add_argument("--gil", action="store_true", help="only samples holding the GIL (Python CPU time; leaves out system calls)")
    args = parser.parse_args(argv)
    if shutil.which("py-spy") is None and not (Path(sys.executable).parent / "py-spy").exists():
        parser.error("py-spy is not installed (pip install py-spy)")
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    args.out.mkdir(parents=True, exist_ok=True)
    output = args.out / f"profile-{args.figure}.txt"
    with tempfile.TemporaryDirectory(prefix="menderlite-profile-") as work:
        directory = Path(work)
        server = start_server(directory / "data")
        try:
            fleet = admit_fleet(server.url, management_token(server), args.devices, 16, directory / "fleet.json")
            requests = BUILDERS[args.figure](f"127.0.0.1:{server.port}", fleet)
            replay(server.url, requests, seconds=1, directory=directory)  # warm-up
            load = threading.Thread(target=replay, args=(server.url, requests), kwargs={"seconds": args.seconds + 2, "directory": directory})
            load.start()
            subprocess.run(
                [py_spy, "record", "-p", str(server.process.pid), "-d", str(args.seconds), "-r", "250", "-f", "raw",
                 "--nolineno", "-o", str(output), *(["--gil"] if args.gil else [])],
                check=True, capture_output=True,
            )
            load.join()
        finally:
            server.stop()
    print(summarise(output))
    print(f"\ncollapsed stacks: {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
