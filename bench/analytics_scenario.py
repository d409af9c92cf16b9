"""The reports at scale, warm: each report through the API and in-process, against a bare read.

The issue's targets (1M persons, 5M events): 12 weekly retention cohorts, a 4-step funnel over
30 days and 30 days of active users, each answered in under 1 s warm. Every report is run once
to warm the caches, then `repeat` times through the API (gunicorn, the bench key) and as the
bare SQL of the report (run_report in this process: what PostgreSQL spends). The baseline of
the same run is a bare read of the rows each report must look at (the daily activity rows of
its days, the events of its steps in its window), counted with one `count(*)`: the ratio says
how much the report costs beyond reading its input once.
"""

import time
from datetime import timedelta

import httpx

from bench.run import timed

REPEAT = 5


def _ranges(today):
    week_start = today - timedelta(days=today.weekday())
    return {
        "twelve_weeks": (week_start - timedelta(weeks=11), today),
        "thirty_days": (today - timedelta(days=29), today),
    }


def scenarios(today) -> list[tuple[str, str, dict, bool]]:
    """(label, report, query, has a target) for the run."""
    ranges = _ranges(today)
    weeks = {"from": str(ranges["twelve_weeks"][0]), "to": str(ranges["twelve_weeks"][1])}
    days = {"from": str(ranges["thirty_days"][0]), "to": str(ranges["thirty_days"][1])}
    return [
        ("retention, 12 weekly cohorts", "retention", {**weeks, "period": "week"}, True),
        (
            "funnel register>login>view>pay, 30 days",
            "funnel",
            {**days, "steps": "register,login,view,pay", "window_days": "14"},
            True,
        ),
        ("active users, 30 days", "active", days, True),
        ("lifecycle, 12 weeks", "lifecycle", {**weeks, "period": "week"}, False),
        ("acquisition by first channel, 30 days", "acquisition", days, False),
        ("retention, recurring, any event, 12 weeks", "retention",
         {**weeks, "start_event": "any", "mode": "recurring"}, False),
    ]  # fmt: skip


def _bare_sql(report: str, query: dict) -> tuple[str, list]:
    """A bare count of the rows the report reads (its baseline)."""
    if report == "funnel":
        return (
            "SELECT count(*) FROM profiles_event WHERE type = ANY(%s) "
            "AND occurred_at >= %s::date AND occurred_at < %s::date + 1 + %s::int",
            [query["steps"].split(","), query["from"], query["to"], int(query["window_days"])],
        )
    if report == "acquisition":
        return (
            "SELECT count(*) FROM profiles_personstats WHERE first_event_at >= %s::date "
            "AND first_event_at < %s::date + 1",
            [query["from"], query["to"]],
        )
    # The rollup reports read the days of the range and their look-back (29 days for MAU, the
    # period before for lifecycle): count those rows. The settle rate reads the mini-program's
    # activity over all time, and more: its baseline is the same count as retention's.
    look_back = {"active": 29, "lifecycle": 7}.get(report, 0)
    return (
        "SELECT count(*) FROM profiles_dailyactivity WHERE day >= %s::date - %s AND day <= %s",
        [query["from"], look_back, query["to"]],
    )


def run(*, base_url: str, key: str, today, repeat: int = REPEAT, settle: dict | None) -> dict:
    from django.db import connection

    from analytics.params import parse_params
    from analytics.reports import run_report

    client = httpx.Client(
        base_url=base_url, headers={"Authorization": f"Bearer {key}"}, timeout=120
    )
    figures = {}
    plan = scenarios(today)
    if settle:
        weeks = {k: v for k, v in plan[0][2].items() if k in ("from", "to")}
        plan.append(("settle rate, 12 weeks", "settle", {**weeks, **settle}, False))
    for label, report, query, target in plan:
        params = parse_params(report, query)
        url = f"/api/v1/analytics/{report}"
        started = time.perf_counter()
        answer = client.get(url, params=query)
        answer.raise_for_status()
        cold_ms = (time.perf_counter() - started) * 1000
        api = timed(lambda url=url, query=query: client.get(url, params=query), repeat)
        sql = timed(lambda report=report, params=params: run_report(report, params), repeat)
        bare_sql, bare_params = _bare_sql(report, query)

        def bare(bare_sql=bare_sql, bare_params=bare_params):
            with connection.cursor() as cursor:
                cursor.execute(bare_sql, bare_params)
                return cursor.fetchone()[0]

        rows = bare()
        baseline = timed(bare, repeat)
        figures[label] = {
            "report": report,
            "query": query,
            "target_1s": target,
            "cold_ms": cold_ms,
            "api": api,
            "in_process": sql,
            "baseline": {**baseline, "rows": rows},
            "answer_bytes": len(answer.content),
        }
        print(f"  {label}: API p50 {api['p50_ms']:.0f} ms", flush=True)
    return {"analytics": figures}


def table_rows(r: dict) -> list[tuple[str, str, str, str]]:
    rows = []
    for label, f in r["analytics"].items():
        base = f["baseline"]
        mark = " (target < 1 s)" if f["target_1s"] else ""
        rows.append(
            (
                f"{label}{mark}",
                f"cold {f['cold_ms']:.0f} ms; SQL {f['in_process']['p50_ms']:.0f} ms",
                f"{f['api']['p50_ms']:.0f} / {f['api']['p99_ms']:.0f} ms",
                f"{f['in_process']['p50_ms'] / max(base['p50_ms'], 0.1):.1f}x a bare count of "
                f"its {base['rows']:,} input rows ({base['p50_ms']:.0f} ms)",
            )
        )
    return rows
