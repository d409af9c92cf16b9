"""The funnel report (analytics.md): how many persons reach each step, within a window.

Read from raw events, not daily activity: steps need exact times and their order within a day.
Each person's chosen entry comes from one statement (funnel_sql.py); counts and medians are
aggregated over it in the same statement. The median is `percentile_cont(0.5)` over exact
integer microseconds, which is statistics.median's: the mean of the two middle values for an
even count.
"""

from django.db import connection

from analytics.params import FunnelCell, FunnelParams
from analytics.reports._rates import rate
from analytics.reports.funnel_sql import MICROS, chosen_entries_sql
from identity.exceptions import InvalidInput

ANY = "any"


def _seconds(micros: float | None) -> int | float | None:
    """Seconds as JSON shows them best: an int when whole."""
    if micros is None:
        return None
    seconds = micros / MICROS
    return int(seconds) if seconds.is_integer() else seconds


def _aggregates_sql(params: FunnelParams) -> tuple[str, list]:
    entries, sql_params = chosen_entries_sql(params)
    columns = ["count(*)", "NULL"]
    for step in range(2, len(params.steps) + 1):
        columns.append(f"count(*) FILTER (WHERE c.reach >= {step})")
        columns.append(
            f"percentile_cont(0.5) WITHIN GROUP (ORDER BY c.m{step} - c.m{step - 1}) "
            f"FILTER (WHERE c.reach >= {step})"
        )
    return f"SELECT {', '.join(columns)} FROM ({entries}) AS c", sql_params  # noqa: S608


def compute(params: FunnelParams) -> dict:
    """The answer: the window and, per step, its count, conversions and median time."""
    sql, sql_params = _aggregates_sql(params)
    with connection.cursor() as cursor:
        cursor.execute(sql, sql_params)
        row = cursor.fetchone()
    counts, medians = row[0::2], row[1::2]
    steps = []
    for index, event_type in enumerate(params.steps):
        steps.append(
            {
                "type": ANY if event_type is None else event_type,
                "count": counts[index],
                "conversion": rate(counts[index], counts[0]),
                "from_previous": None if index == 0 else rate(counts[index], counts[index - 1]),
                "median_seconds": _seconds(medians[index]),
            }
        )
    return {"window_days": params.window_days, "steps": steps}


def cell_members(params: FunnelParams, cell: FunnelCell) -> tuple[str, list]:
    """The persons who reached `cell.step` (and, when `dropped`, not the step after it)."""
    steps = len(params.steps)
    if cell.dropped and cell.step >= steps:
        raise InvalidInput({"step": [f"Persons drop out after steps 1 to {steps - 1} only."]})
    if cell.step > steps:
        raise InvalidInput({"step": [f"The funnel has {steps} steps."]})
    entries, sql_params = chosen_entries_sql(params)
    reached = "=" if cell.dropped else ">="
    sql = f"SELECT c.person_id FROM ({entries}) AS c WHERE c.reach {reached} {int(cell.step)}"  # noqa: S608
    return sql, sql_params
