"""The event pipeline scenario: ingest against the bare insert, lag, backlog and drain.

In order: the bare insert baseline (bench/ingest_load.py) for N seconds; then the ingest load
for N seconds with the lag probe (bench/lag_probe.py) running beside it; at the end of the
load, the backlog the worker has yet to apply (pending rows, their events, the oldest one's
age, the queue's jobs) and `/healthz`; then up to 30 s of drain, timed until no pending row is
left. Where the server has pg_stat_statements, the statements that took the most time from the
start of the load to the end of the drain are recorded too (bench/statements.py). The workers
are started and stopped by bench/run.py around the whole run.
"""

import time

import httpx
import psycopg

from bench import ingest_load, statements
from bench.lag_probe import LagProbe

DRAIN_SECONDS = 30

BACKLOG = """
SELECT count(*), coalesce(sum(event_count), 0),
       extract(epoch FROM now() - min(accepted_at))
FROM profiles_pendingevents
"""
JOBS = """
SELECT count(*) FILTER (WHERE status = 'todo'), count(*) FILTER (WHERE status = 'doing'),
       count(*) FILTER (WHERE status = 'failed')
FROM procrastinate_jobs
"""


def backlog(dsn: str) -> dict:
    """What the worker has yet to apply, now."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        rows, events, age = conn.execute(BACKLOG).fetchone()
        figures = {
            "pending_rows": rows,
            "pending_events": int(events),
            "oldest_age_s": round(float(age), 2) if age is not None else None,
        }
        if conn.execute("SELECT to_regclass('procrastinate_jobs')").fetchone()[0]:
            todo, doing, failed = conn.execute(JOBS).fetchone()
            figures |= {"jobs_todo": todo, "jobs_doing": doing, "jobs_failed": failed}
    return figures


def _health(base_url: str) -> dict | None:
    try:
        return httpx.get(f"{base_url}/healthz", timeout=10).json()
    except (httpx.HTTPError, ValueError):
        return None


def run(
    *,
    base_url: str,
    key: str,
    dsn: str,
    seconds: float,
    persons: int,
    appid: str,
    app_pk: int,
    openid,
) -> dict:
    leftover = backlog(dsn)
    if leftover["pending_rows"]:
        # A previous run's leftovers: the workers apply them during the bare insert (lowering
        # it) and the load (inflating the backlog). Recorded; a clean figure needs a drain first
        # (`manage.py run_worker --until-empty`).
        print(f"warning: {leftover['pending_events']} events still pending before the run")
    bare = ingest_load.bare_insert(dsn=dsn, seconds=seconds, app_pk=app_pk)
    before = backlog(dsn)
    profiled = statements.reset(dsn)
    probe = LagProbe(base_url=base_url, key=key, dsn=dsn, appid=appid, app_pk=app_pk).start()
    load = ingest_load.ingest(
        base_url=base_url, key=key, seconds=seconds, persons=persons, appid=appid, openid=openid
    )
    at_end = backlog(dsn)
    health = _health(base_url)
    probe.stop_sending()
    probes = probe.results()["probes"]

    started = time.monotonic()
    drained = None
    while time.monotonic() - started < DRAIN_SECONDS:
        if backlog(dsn)["pending_rows"] == 0:
            drained = time.monotonic() - started
            break
        time.sleep(0.2)
    probe.wait(max(1.0, DRAIN_SECONDS - (time.monotonic() - started)))
    top = statements.top(dsn) if profiled else None
    # Events the workers applied while the load ran: pending before, plus accepted (the load's
    # and the probes' two each), minus pending at the end.
    applied = before["pending_events"] + load["events"] + 2 * probes - at_end["pending_events"]
    return {
        "ingest_bare_insert": bare,
        "ingest_500": {
            **load,
            "of_bare_insert": load["events_per_s"] / bare["events_per_s"]
            if bare["events_per_s"]
            else None,
        },
        "pipeline_lag": probe.results(),
        "pipeline_backlog": {
            "before_run": leftover,
            "before_load": before,
            "end_of_load": at_end,
            "applied_during_load_per_s": applied / load["seconds"],
            "healthz_end_of_load": health,
            "drain_s": round(drained, 2) if drained is not None else None,
            "after_drain": backlog(dsn),
        },
        "pipeline_top_statements": top,
    }


def _ms(figures: dict) -> str:
    if figures["p50"] is None:
        return "-"
    return f"{figures['p50']:.0f} / {figures['p99']:.0f} ms (max {figures['max']:.0f})"


def _batch(figures: dict) -> str:
    if figures["batch_p50_ms"] is None:
        return f"- ({figures['failed_batches']} failed: {figures['first_error']})"
    return f"{figures['batch_p50_ms']:.0f} / {figures['batch_p99_ms']:.0f} ms"


def table_rows(r: dict) -> list[tuple[str, str, str, str]]:
    """The scenario's rows of bench/run.py's results table."""
    bare, load, lag = r["ingest_bare_insert"], r["ingest_500"], r["pipeline_lag"]
    backlog, workers = r["pipeline_backlog"], r["pipeline_workers"]
    end = backlog["end_of_load"]
    ratio = load["of_bare_insert"]
    drained = backlog["drain_s"]
    return [
        (
            "bare insert, batches of 500, 4 clients (baseline)",
            f"{bare['events_per_s']:.0f} events/s",
            _batch(bare),
            "1.00",
        ),
        (
            f"event ingest, batches of 500, 4 clients ({workers['processes']} job workers)",
            f"{load['events_per_s']:.0f} events/s",
            _batch(load),
            f"{ratio:.2f} of the bare insert" if ratio is not None else "-",
        ),
        (
            f"lag accept -> stats ({lag['probes']} probes)",
            "-",
            _ms(lag["stats_ms"]),
            f"{lag['stats_missing']} never arrived",
        ),
        (
            "lag accept -> rule tag",
            "-",
            _ms(lag["tags_ms"]),
            f"{lag['tags_missing']} never arrived",
        ),
        (
            "backlog at end of load (rows / events / oldest)",
            f"{end['pending_rows']} / {end['pending_events']} / {end['oldest_age_s'] or 0:.1f} s",
            "-",
            f"drained in {drained:.1f} s" if drained is not None else "not drained in 30 s",
        ),
        (
            "events applied by the workers during the load",
            f"{backlog['applied_during_load_per_s']:.0f} events/s",
            "-",
            "-",
        ),
    ]
