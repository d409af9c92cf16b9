"""CPU per request of the single lookup: gunicorn's workers, PostgreSQL and Redis, and wrk.

    export DATABASE_URL=... (a seeded data set: manage.py bench_seed --persons 100000)
    python bench/cpu_per_request.py --app service --redis-url redis://127.0.0.1:6379/3
    python bench/cpu_per_request.py --app service            # the person cache off
    python bench/cpu_per_request.py --app baseline           # the bare baseline

Reads each process's CPU time (user and system) from /proc before and after a wrk round
(32 connections, 2 workers x 4 threads, as bench/run.py) and divides by the requests served:
where a saturated 2-core machine spends a request, which req/s alone cannot tell. With
`--redis-url` the person cache is on and the round's keys are read once first (filling it).
"""

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.run import APP_PORT, env, manage, serve  # noqa: E402

APPS = {"service": "config.wsgi:application", "baseline": "bench.baseline:application"}
TICK = os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--app", choices=sorted(APPS), default="service")
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--redis-url")
    args = parser.parse_args()
    os.chdir(ROOT)
    import django

    os.environ.update(env())
    django.setup()
    from bench import dataset as ds

    key = manage("create_api_key", "cpu probe", "--scopes", "all").strip()
    extra = {"PERSON_CACHE_SECONDS": "0"}
    if args.redis_url:
        extra = {"REDIS_URL": args.redis_url, "PERSON_CACHE_SECONDS": "3600"}
    app = serve(APPS[args.app], APP_PORT, 2, 4, **extra)
    variables = {"PERSONS": str(args.persons), "APPID": ds.MINI_APPID, "KEY": key}
    if args.app == "baseline":
        variables["LOOKUP_PATH"] = "/"
    try:
        if args.redis_url:
            wrk("lookup_all.lua", 10 + args.persons // 800, variables)
        wrk("lookup.lua", 3, variables)  # warm up
        workers = _children(app.pid)
        servers = _servers()
        before = {pid: _cpu(pid) for pid in workers + servers}
        started = os.times()
        served = wrk("lookup.lua", args.seconds, variables)
        ended = os.times()
        after = {pid: _cpu(pid) for pid in workers + servers}
    finally:
        app.terminate()
        app.wait(timeout=20)
    load = (ended.children_user + ended.children_system) - (
        started.children_user + started.children_system
    )
    cache = "on" if args.redis_url else "off"
    print(f"{args.app}, cache {cache}: {served / args.seconds:.0f} req/s")
    for label, pids in (("gunicorn workers", workers), ("PostgreSQL + Redis", servers)):
        user = sum(after[pid][0] - before[pid][0] for pid in pids)
        system = sum(after[pid][1] - before[pid][1] for pid in pids)
        print(f"  {label}: {_us(user, served)} us user + {_us(system, served)} us system")
    print(f"  wrk: {_us(load, served)} us")


def wrk(script: str, seconds: int, variables: dict) -> int:
    output = subprocess.run(
        ["wrk", "-t2", "-c32", f"-d{seconds}s", "-s", f"bench/wrk/{script}", _url()],
        env={**os.environ, **variables},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return int(next(line for line in output.splitlines() if "requests in" in line).split()[0])


def _url() -> str:
    return f"http://127.0.0.1:{APP_PORT}"


def _cpu(pid: int) -> tuple[float, float]:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:  # a database backend that ended: it used nothing more
        return (0.0, 0.0)
    return (int(fields[11]) / TICK, int(fields[12]) / TICK)


def _children(pid: int) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(child) for child in found.split()]


def _servers() -> list[int]:
    found = subprocess.run(
        ["pgrep", "-f", "postgres: |redis-server"], capture_output=True, text=True
    ).stdout
    return [int(pid) for pid in found.split()]


def _us(seconds: float, requests: int) -> str:
    return f"{1e6 * seconds / max(requests, 1):.0f}"


if __name__ == "__main__":
    main()
