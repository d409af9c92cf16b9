"""Profile the single lookup under load: where a worker's time goes, by function.

    export DATABASE_URL=... (a seeded data set: manage.py bench_seed)
    python bench/profile_lookup.py --persons 100000 --seconds 20 [--out bench/results/profile]

Starts the service under the benchmark's gunicorn settings (bench/run.py), drives the lookup
with wrk (32 connections) and samples every gunicorn worker with py-spy at 200 Hz meanwhile.
Prints the functions that hold the most samples, inclusive (the function and what it calls) and
self, as shares of the workers' samples, and writes the collapsed stacks (flame graph input)
next to the summary. Idle threads waiting for a request are left out, so that shares add up to
the time spent serving.
"""

import argparse
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.run import APP_PORT, manage, serve  # noqa: E402

PY_SPY = str(Path(sys.executable).with_name("py-spy"))
# --gil: only the thread holding the GIL, i.e. where the workers' CPU goes (the default also
# counts threads waiting for PostgreSQL or Redis).
GIL = ["--gil"] if os.environ.get("PROFILE_GIL") else []
# Frames of a gthread worker waiting for work, not serving a request.
IDLE = ("select (selectors.py", "wait (threading.py", "_worker (concurrent/futures/thread.py")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--out", default="bench/results/profile")
    args = parser.parse_args()
    os.chdir(ROOT)
    import django

    from bench.run import env

    os.environ.update(env())
    django.setup()
    from bench import dataset as ds

    key = manage("create_api_key", "profile", "--scopes", "all").strip()
    app = serve("config.wsgi:application", APP_PORT, 2, 4)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    try:
        load = subprocess.Popen(
            [
                "wrk", "-t2", f"-c{args.connections}", f"-d{args.seconds + 4}s", "--latency",
                "-s", "bench/wrk/lookup.lua", f"http://127.0.0.1:{APP_PORT}",
            ],
            env={**os.environ, "PERSONS": str(args.persons), "APPID": ds.MINI_APPID, "KEY": key},
            stdout=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        time.sleep(2)
        raw = out / "lookup.collapsed"
        subprocess.run(
            [
                PY_SPY, "record", "--pid", str(app.pid), "--subprocesses", "--rate", "200",
                "--duration", str(args.seconds), "--format", "raw", "--nonblocking", *GIL,
                "--output", str(raw),
            ],
            check=True,
            capture_output=True,
        )  # fmt: skip
        wrk_output = load.communicate()[0]
    finally:
        app.terminate()
        app.wait(timeout=20)
    summary = summarise(raw.read_text(), args.top)
    rps = next((line for line in wrk_output.splitlines() if "Requests/sec" in line), "")
    text = f"{rps.strip()}\n{summary}"
    (out / "lookup.txt").write_text(text)
    print(text)


def summarise(collapsed: str, top: int) -> str:
    inclusive, own, total = Counter(), Counter(), 0
    for line in collapsed.splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        if not frames or any(marker in frames[-1] for marker in IDLE):
            continue
        samples = int(count)
        total += samples
        for frame in set(map(_short, frames)):
            inclusive[frame] += samples
        own[_short(frames[-1])] += samples
    lines = [f"{total} samples serving requests", "", "inclusive  self  function"]
    for frame, samples in inclusive.most_common(top):
        lines.append(f"{100 * samples / total:8.1f}% {100 * own[frame] / total:5.1f}%  {frame}")
    lines += ["", "self time, top functions"]
    for frame, samples in own.most_common(top):
        lines.append(f"{100 * samples / total:8.1f}%  {frame}")
    return "\n".join(lines)


def _short(frame: str) -> str:
    # "function (path/to/module.py:line)" -> "function (module path from site-packages or repo)"
    name, _, where = frame.partition(" (")
    where = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", str(ROOT) + "/", "lib/python3.11/"):
        if marker in where:
            where = where.split(marker, 1)[1]
    return f"{name} ({where})"


if __name__ == "__main__":
    main()
