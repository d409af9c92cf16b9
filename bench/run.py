"""Run the benchmark scenarios against a seeded database and print the results table.

    export DATABASE_URL=... DJANGO_SETTINGS_MODULE=bench.settings
    python manage.py bench_seed --persons 1000000
    python bench/run.py --persons 1000000

Starts the service and the bare baseline (bench/baseline.py) under the same gunicorn
configuration, drives them with wrk (32 connections), times the other scenarios from Python,
and writes bench/results/latest.json. Ratios compare figures measured in the same run.
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PY = sys.executable
APP_PORT, BASE_PORT = 8100, 8101


def env(**extra) -> dict:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "false",
        "SECURE_SSL_REDIRECT": "false",
        "SECURE_HSTS_SECONDS": "0",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "API_RATE_LIMIT": "",
        "GUNICORN_ACCESSLOG": "",
        "LOG_LEVEL": "WARNING",
        **extra,
    }


def manage(*args, **extra) -> str:
    """Run a management command with the bench app installed (bench.settings)."""
    done = subprocess.run(
        [PY, "manage.py", *args],
        cwd=ROOT,
        env=env(DJANGO_SETTINGS_MODULE="bench.settings", **extra),
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def serve(app: str, port: int, workers: int, threads: int) -> subprocess.Popen:
    process = subprocess.Popen(
        [PY, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--bind", f"127.0.0.1:{port}", app],
        cwd=ROOT,
        env=env(GUNICORN_WORKERS=str(workers), GUNICORN_THREADS=str(threads)),
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return process
        except httpx.HTTPError:
            time.sleep(0.3)
    raise RuntimeError(f"{app} did not start")


class Results(dict):
    """The figures of the run, printed as each is measured (a long run shows its progress)."""

    def __setitem__(self, name, figures):
        print(f"{name}: {json.dumps(figures, default=str)}", flush=True)
        super().__setitem__(name, figures)

    def update(self, other):
        for name, figures in other.items():
            self[name] = figures


def wrk(script: str, port: int, seconds: int, connections: int, **variables) -> dict:
    output = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "-s",
            f"bench/wrk/{script}",
            f"http://127.0.0.1:{port}",
        ],
        cwd=ROOT,
        env={**os.environ, **variables},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    latency = {p: _ms(re.search(rf"\s{p}%\s+([\d.]+\w+)", output).group(1)) for p in (50, 99)}
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {
        "rps": rps,
        "p50_ms": latency[50],
        "p99_ms": latency[99],
        "errors": int(non2xx.group(1)) if non2xx else 0,
    }


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(\w+)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]


def timed(work, repeat: int) -> dict:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return {"p50_ms": statistics.median(times), "p99_ms": times[max(0, int(len(times) * 0.99) - 1)]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--followers", type=int, default=50_000)
    args = parser.parse_args()

    os.chdir(ROOT)
    import django

    os.environ.update(env())
    django.setup()
    from bench import dataset as ds

    key = manage("create_api_key", "bench", "--scopes", "all").strip()
    results = Results(config=vars(args))
    app = serve("config.wsgi:application", APP_PORT, args.workers, args.threads)
    base = serve("bench.baseline:application", BASE_PORT, args.workers, args.threads)
    try:
        common = {"PERSONS": str(args.persons), "APPID": ds.MINI_APPID}
        wrk("lookup.lua", BASE_PORT, 3, args.connections, **common, LOOKUP_PATH="/")  # warm up
        wrk("lookup.lua", APP_PORT, 3, args.connections, **common, KEY=key)
        results["lookup_baseline"] = wrk(
            "lookup.lua", BASE_PORT, args.seconds, args.connections, **common, LOOKUP_PATH="/"
        )
        results["lookup"] = wrk(
            "lookup.lua", APP_PORT, args.seconds, args.connections, **common, KEY=key
        )
        results["resolve_existing"] = wrk(
            "resolve.lua", APP_PORT, args.seconds, args.connections, **common, KEY=key
        )
        results["resolve_new"] = wrk(
            "resolve.lua", APP_PORT, args.seconds, args.connections, **common, KEY=key, NEW="1"
        )
        results.update(python_scenarios(key, args, ds))
    finally:
        for process in (app, base):
            process.terminate()
            process.wait(timeout=20)
    results["rule_refresh"] = rule_refresh()
    results["follower_import"] = follower_import(args, ds)
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "latest.json").write_text(json.dumps(results, indent=2))
    print(table(results))


def python_scenarios(key: str, args, ds) -> dict:
    import random

    import psycopg
    from django.db import connection

    client = httpx.Client(
        base_url=f"http://127.0.0.1:{APP_PORT}",
        headers={"Authorization": f"Bearer {key}"},
        timeout=60,
    )
    rng = random.Random(7)

    def keys():
        return [ds.mini_openid(rng.randrange(args.persons)) for _ in range(1000)]

    batch = timed(
        lambda: client.post(
            "/api/v1/persons/lookup", json={"appid": ds.MINI_APPID, "openids": keys()}
        ).raise_for_status(),
        20,
    )
    from identity.models import App
    from identity.person_reads import _statement
    from identity.person_sections import sections

    dsn = connection.get_connection_params()
    # The one statement the API runs for a batch, executed bare (same keys, same rows).
    raw_sql = _statement("openids", tuple(section.name for section in sections()))
    app_pk = App.objects.get(appid=ds.MINI_APPID).pk
    with psycopg.connect(
        **{k: v for k, v in dsn.items() if k in ("dbname", "user", "password", "host", "port")}
    ) as conn:
        raw = timed(lambda: conn.execute(raw_sql, (app_pk, keys())).fetchall(), 20)

    counter = iter(range(10**9))
    lock = threading.Lock()
    # New event ids every run: a rerun on the same data would otherwise replay the last run's
    # events, which ingest skips as duplicates (and measures far faster than new events).
    run_id = uuid.uuid4().hex[:8]
    occurred_at = (datetime.now(UTC) - timedelta(days=1)).isoformat()

    def ingest_batch():
        with lock:
            start = next(counter) * 500
        events = [
            {
                "event_id": f"bench-ingest-{run_id}-{start + n}",
                "appid": ds.MINI_APPID,
                "openid": ds.mini_openid(rng.randrange(args.persons)),
                "type": "view",
                "occurred_at": occurred_at,
            }
            for n in range(500)
        ]
        client.post("/api/v1/events", json={"events": events}).raise_for_status()

    deadline = time.monotonic() + args.seconds
    batches = 0

    def worker():
        nonlocal batches
        while time.monotonic() < deadline:
            ingest_batch()
            with lock:
                batches += 1

    started = time.monotonic()
    with ThreadPoolExecutor(4) as pool:
        for _ in range(4):
            pool.submit(worker)
    ingest = {"events_per_s": batches * 500 / (time.monotonic() - started), "batches": batches}

    segment_count = timed(
        lambda: client.get("/api/v1/segments/bench_buyers").raise_for_status(), 10
    )
    members = timed(
        lambda: client.get("/api/v1/segments/bench_buyers/members?limit=100").raise_for_status(), 10
    )
    return {
        "batch_lookup_1000": batch,
        "batch_raw_sql_1000": raw,
        "ingest_500": ingest,
        "segment_count": segment_count,
        "segment_members_page": members,
    }


def rule_refresh() -> dict:
    started = time.monotonic()
    output = manage("refresh_rule_tags", "--tag", "dormant")
    return {"seconds": time.monotonic() - started, "output": output.strip().splitlines()[0]}


def follower_import(args, ds) -> dict:
    from identity.models import App
    from platforms.wechat.test_double.server import FakeWeChatServer

    server = FakeWeChatServer().start()
    state = server.state
    app = App.objects.get(appid=ds.SERVICE_APPID)
    state.add_app(app.appid, app.get_secret())
    stamp = int(time.time())
    for number in range(args.followers):
        state.add_follower(
            app.appid, f"obf{stamp:010d}{number:012d}", unionid=f"obu{stamp:010d}{number:012d}"
        )
    started = time.monotonic()
    output = manage(
        "wechat_import_followers",
        "--appid",
        app.appid,
        "--restart",
        WECHAT_API_BASE=server.base_url,
    )
    seconds = time.monotonic() - started
    server.stop()
    return {
        "followers": args.followers,
        "seconds": seconds,
        "followers_per_s": args.followers / seconds,
        "output": output.strip().splitlines()[-1],
    }


def _lat(figures: dict) -> str:
    return f"{figures['p50_ms']:.1f} / {figures['p99_ms']:.1f} ms"


def table(r: dict) -> str:
    base = r["lookup_baseline"]["rps"]
    raw = r["batch_raw_sql_1000"]["p50_ms"]
    batch = r["batch_lookup_1000"]
    rows = [
        ("single lookup (bare baseline)", f"{base:.0f} req/s", _lat(r["lookup_baseline"]), "1.00")
    ]
    for name, label in (
        ("lookup", "single lookup"),
        ("resolve_existing", "resolve, existing openid"),
        ("resolve_new", "resolve, new openid"),
    ):
        rps = r[name]["rps"]
        rows.append((label, f"{rps:.0f} req/s", _lat(r[name]), f"{rps / base:.2f} of baseline"))
    rows += [
        (
            "batch lookup, 1000 openids",
            "-",
            _lat(batch),
            f"{batch['p50_ms'] / raw:.1f}x the raw SQL query ({raw:.0f} ms)",
        ),
        (
            "event ingest, batches of 500",
            f"{r['ingest_500']['events_per_s']:.0f} events/s",
            "-",
            "-",
        ),
        ("segment count (3 conditions)", "-", _lat(r["segment_count"]), "-"),
        ("segment members, first page of 100", "-", _lat(r["segment_members_page"]), "-"),
        ("rule-tag refresh over all persons", f"{r['rule_refresh']['seconds']:.1f} s", "-", "-"),
        ("follower import", f"{r['follower_import']['followers_per_s']:.0f} followers/s", "-", "-"),
    ]
    lines = ["| scenario | throughput | p50 / p99 | ratio |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
