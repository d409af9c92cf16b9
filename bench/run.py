"""Run the benchmark scenarios against a seeded database and print the results table.

    export DATABASE_URL=... DJANGO_SETTINGS_MODULE=bench.settings
    python manage.py bench_seed --persons 1000000
    python bench/run.py --persons 1000000
    python bench/run.py --only pipeline --seconds 60 --job-workers 2
    python bench/run.py --only analytics
    python bench/run.py --only lookups    # the lookup and resolve scenarios and their baseline
    python bench/run.py --own-postgres /srv/benchpg   # a tuned server of its own (seeds it once)

Starts the service and the bare baseline (bench/baseline.py) under the same gunicorn
configuration, drives them with wrk (32 connections), times the other scenarios from Python,
and writes bench/results/latest.json. Ratios compare figures measured in the same run. The
event pipeline scenario (bench/pipeline_scenario.py) runs with `--job-workers` worker processes
(`manage.py run_worker`) beside gunicorn, started before it and stopped with SIGTERM after it.
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PY = sys.executable
APP_PORT, BASE_PORT, CACHED_PORT = 8100, 8101, 8102


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
        "JOBS_RUN_INLINE": "false",
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


def serve(app: str, port: int, workers: int, threads: int, **extra) -> subprocess.Popen:
    process = subprocess.Popen(
        [PY, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--bind", f"127.0.0.1:{port}", app],
        cwd=ROOT,
        env=env(GUNICORN_WORKERS=str(workers), GUNICORN_THREADS=str(threads), **extra),
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
    parser.add_argument("--job-workers", type=int, default=1, help="run_worker processes")
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("REDIS_URL"),
        help="Redis of the person cache's scenario (default REDIS_URL; none: not measured)",
    )
    parser.add_argument(
        "--only", choices=["all", "pipeline", "analytics", "lookups"], default="all"
    )
    parser.add_argument(
        "--own-postgres",
        metavar="DIR",
        help="start a PostgreSQL tuned for this machine in DIR (initdb and seed on first use)",
    )
    args = parser.parse_args()

    os.chdir(ROOT)
    own = own_postgres(args) if args.own_postgres else None
    try:
        run(args)
    finally:
        if own:
            own.stop()


def own_postgres(args):
    """Start the tuned server, point DATABASE_URL at it, and migrate and seed it if needed."""
    from bench.postgres import OwnPostgres

    own = OwnPostgres(args.own_postgres).start()
    os.environ["DATABASE_URL"] = own.url
    print(f"own PostgreSQL on port {own.port} ({own.directory})", flush=True)
    manage("migrate", "--no-input")
    import psycopg

    with psycopg.connect(own.url) as conn:
        seeded = conn.execute("SELECT count(*) FROM identity_person").fetchone()[0]
    if seeded == 0:
        print(f"seeding {args.persons} persons (about 13 minutes per million)", flush=True)
        started = time.monotonic()
        manage("bench_seed", "--persons", str(args.persons))
        print(f"seeded in {time.monotonic() - started:.0f} s", flush=True)
    own.tune_hot_tables()
    return own


def run(args) -> None:
    import django

    os.environ.update(env())
    django.setup()
    from bench import dataset as ds
    from bench.postgres import machine_settings

    key = manage("create_api_key", "bench", "--scopes", "all").strip()
    results = Results(config=vars(args))
    results["postgres"] = server_settings(list(machine_settings()))
    # The service without the person cache; the cached one is started beside it (--redis-url).
    app = serve(
        "config.wsgi:application", APP_PORT, args.workers, args.threads, PERSON_CACHE_SECONDS="0"
    )
    if args.only in ("pipeline", "analytics"):
        try:
            scenario = pipeline if args.only == "pipeline" else analytics
            results.update(scenario(key, args, ds))
        finally:
            app.terminate()
            app.wait(timeout=20)
        return report(results)
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
        if args.redis_url:
            results.update(cached_lookup(key, args, common))
        results["resolve_existing"] = wrk(
            "resolve.lua", APP_PORT, args.seconds, args.connections, **common, KEY=key
        )
        results["resolve_new"] = wrk(
            "resolve.lua", APP_PORT, args.seconds, args.connections, **common, KEY=key, NEW="1"
        )
        results.update(batch_lookup(key, args, ds))
        if args.only == "lookups":
            return report(results)
        results.update(python_scenarios(key, args, ds))
        results.update(pipeline(key, args, ds))
        results.update(analytics(key, args, ds))
    finally:
        for process in (app, base):
            process.terminate()
            process.wait(timeout=20)
    results["rule_refresh"] = rule_refresh()
    results["follower_import"] = follower_import(args, ds)
    report(results)


def report(results: dict) -> None:
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "latest.json").write_text(json.dumps(results, indent=2, default=str))
    print(table(results))


def dsn() -> str:
    """The service's database as a psycopg conninfo (the bench's own connections)."""
    from django.db import connection
    from psycopg.conninfo import make_conninfo

    params = connection.get_connection_params()
    keys = ("dbname", "user", "password", "host", "port")
    return make_conninfo(**{k: v for k, v in params.items() if k in keys and v})


def server_settings(names: list[str]) -> dict:
    """The server's values of the settings docs/postgresql.md discusses (the run's record)."""
    import psycopg

    with psycopg.connect(dsn()) as conn:
        rows = conn.execute(
            "SELECT name, current_setting(name) FROM pg_settings WHERE name = ANY(%s)", [names]
        ).fetchall()
        version = conn.execute("SHOW server_version").fetchone()[0]
    return {"server_version": version, **dict(rows)}


def pipeline(key: str, args, ds) -> dict:
    """The event pipeline scenario with `--job-workers` workers running beside gunicorn."""
    from bench import job_workers, pipeline_scenario
    from identity.models import App

    if not job_workers.available():
        print("no run_worker command yet: the pipeline scenario runs without workers", flush=True)
    workers = job_workers.start(args.job_workers, python=PY, env=env())
    try:
        figures = pipeline_scenario.run(
            base_url=f"http://127.0.0.1:{APP_PORT}",
            key=key,
            dsn=dsn(),
            seconds=args.seconds,
            persons=args.persons,
            appid=ds.MINI_APPID,
            app_pk=App.objects.get(appid=ds.MINI_APPID).pk,
            openid=ds.mini_openid,
        )
    finally:
        figures_workers = job_workers.stop(workers)
    figures["pipeline_workers"] = {"processes": len(workers), **figures_workers}
    return figures


def analytics(key: str, args, ds) -> dict:
    """The reports, warm, through the API and in-process (bench/analytics_scenario.py)."""
    from django.utils import timezone

    from analytics.periods import local_date
    from bench import analytics_scenario

    return analytics_scenario.run(
        base_url=f"http://127.0.0.1:{APP_PORT}",
        key=key,
        today=local_date(timezone.now()),
        settle={"miniprogram": ds.MINI_APPID, "service_account": ds.SERVICE_APPID},
    )


def cached_lookup(key: str, args, common: dict) -> dict:
    """The single lookup through the person cache (Redis at --redis-url): every person's entry
    filled first by one lookup each, then the same random lookups as the uncached round."""
    cached = serve(
        "config.wsgi:application",
        CACHED_PORT,
        args.workers,
        args.threads,
        REDIS_URL=args.redis_url,
        PERSON_CACHE_SECONDS="3600",
    )
    try:
        # Long enough to go through every person at least once at the uncached rate.
        seconds = 10 + args.persons // 800
        warm = wrk("lookup_all.lua", CACHED_PORT, seconds, args.connections, **common, KEY=key)
        return {
            "lookup_cache_fill": warm,
            "lookup_cached": wrk(
                "lookup.lua", CACHED_PORT, args.seconds, args.connections, **common, KEY=key
            ),
        }
    finally:
        cached.terminate()
        cached.wait(timeout=20)


def batch_lookup(key: str, args, ds) -> dict:
    """A batch of 1000 random openids through the API, and the statement it runs, bare."""
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
    return {"batch_lookup_1000": batch, "batch_raw_sql_1000": raw}


def python_scenarios(key: str, args, ds) -> dict:
    client = httpx.Client(
        base_url=f"http://127.0.0.1:{APP_PORT}",
        headers={"Authorization": f"Bearer {key}"},
        timeout=60,
    )
    segment_count = timed(
        lambda: client.get("/api/v1/segments/bench_buyers").raise_for_status(), 10
    )
    members = timed(
        lambda: client.get("/api/v1/segments/bench_buyers/members?limit=100").raise_for_status(), 10
    )
    return {
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
    line = output.strip().splitlines()[-1]
    # The rate is the command's own time, the import: starting Python and Django in the
    # subprocess (about a second here) is not the import's, and would weigh on small counts.
    imported = float(re.search(r" in ([\d.]+)s:", line)[1])
    return {
        "followers": args.followers,
        "seconds": imported,
        "seconds_with_startup": seconds,
        "followers_per_s": args.followers / imported,
        "output": line,
    }


def _lat(figures: dict) -> str:
    return f"{figures['p50_ms']:.1f} / {figures['p99_ms']:.1f} ms"


def table(r: dict) -> str:
    from bench.pipeline_scenario import table_rows

    rows = []
    if "lookup_baseline" in r:
        rows += lookup_rows(r)
    if "ingest_500" in r:
        rows += table_rows(r)
    if "analytics" in r:
        from bench.analytics_scenario import table_rows as analytics_rows

        rows += analytics_rows(r)
    if "segment_count" in r:
        rows += [
            ("segment count (3 conditions)", "-", _lat(r["segment_count"]), "-"),
            ("segment members, first page of 100", "-", _lat(r["segment_members_page"]), "-"),
        ]
    if "rule_refresh" in r:
        seconds = r["rule_refresh"]["seconds"]
        rows.append(("rule-tag refresh over all persons", f"{seconds:.1f} s", "-", "-"))
    if "follower_import" in r:
        rate = r["follower_import"]["followers_per_s"]
        rows.append(("follower import", f"{rate:.0f} followers/s", "-", "-"))
    lines = ["| scenario | throughput | p50 / p99 | ratio |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    return "\n".join(lines)


def lookup_rows(r: dict) -> list[tuple[str, str, str, str]]:
    base = r["lookup_baseline"]["rps"]
    rows = [
        ("single lookup (bare baseline)", f"{base:.0f} req/s", _lat(r["lookup_baseline"]), "1.00")
    ]
    for name, label in (
        ("lookup", "single lookup, no cache"),
        ("lookup_cached", "single lookup, cache warm"),
        ("resolve_existing", "resolve, existing openid"),
        ("resolve_new", "resolve, new openid"),
    ):
        if name not in r:
            continue
        rps = r[name]["rps"]
        rows.append((label, f"{rps:.0f} req/s", _lat(r[name]), f"{rps / base:.2f} of baseline"))
    raw = r["batch_raw_sql_1000"]["p50_ms"]
    batch = r["batch_lookup_1000"]
    rows.append(
        (
            "batch lookup, 1000 openids",
            "-",
            _lat(batch),
            f"{batch['p50_ms'] / raw:.1f}x the raw SQL query ({raw:.0f} ms)",
        )
    )
    return rows


if __name__ == "__main__":
    main()
