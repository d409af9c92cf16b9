"""The lifecycle report (analytics.md, "Lifecycle"): new, returning, resurrecting, dormant.

One statement over daily activity: the activity rows from the period before the range (the
look-back of the first period's "returning" and "dormant") to its end, each with its period's
number (0 for that previous period), sorted once per person. With lag() and lead() over them,
the first row of each active period is returning (active in the one before), new (the
person's first-ever activity is in it) or resurrecting, and the last row of a period followed
by a gap makes the next period dormant; other rows of a period count for nothing. So the
(person, period) pairs need no deduplication, and the counts are one small aggregate by
period. "First-ever" comes from _sql.first_days (the stats, or earlier activity with apps).
"""

from analytics.params import LifecycleCell, LifecycleParams
from analytics.periods import next_period, shift
from analytics.reports._sql import activity, fetch, first_days, period_number
from identity.exceptions import InvalidInput

STATES = ("new", "returning", "resurrecting", "dormant")


def _rows(params: LifecycleParams) -> tuple[str, list]:
    """A query of (person_id, i, state, dormant_next) of the activity rows that count: the
    first of a person's period i (0 = the look-back) counts them in `state` for period i (NULL
    for the look-back), the last one followed by a gap makes them dormant in period i + 1."""
    period, starts = params.range.period, params.range.starts
    base, end = shift(starts[0], period, -1), next_period(starts[-1], period)
    active, active_params = activity(params.audience, params.event, base, end)
    firsts, first_params = first_days(params.audience, params.event, starts[0], end)
    sql = f"""
        SELECT seq.person_id, seq.i,
               CASE WHEN NOT seq.opens THEN NULL
                    WHEN seq.prev = seq.i - 1 THEN 'returning'
                    WHEN f.i = seq.i THEN 'new'
                    ELSE 'resurrecting' END AS state,
               seq.dormant_next
        FROM (
            SELECT person_id, i, prev, i > 0 AND prev IS DISTINCT FROM i AS opens,
                   i < {len(starts):d} AND (next IS NULL OR next > i + 1) AS dormant_next
            FROM (
                SELECT person_id, i, lag(i) OVER w AS prev, lead(i) OVER w AS next FROM (
                    SELECT a.person_id, {period_number("a.day", base, period)} AS i
                    FROM ({active}) a
                ) AS act
                WINDOW w AS (PARTITION BY person_id ORDER BY i)
            ) AS ordered
        ) AS seq
        LEFT JOIN (
            SELECT f.person_id, {period_number("f.day", base, period)} AS i FROM ({firsts}) f
        ) AS f ON f.person_id = seq.person_id
        WHERE seq.opens OR seq.dormant_next
    """  # noqa: S608 - fragments of _sql; values are parameters
    return sql, active_params + first_params


def compute(params: LifecycleParams) -> dict:
    """Each period of the range, oldest first, with its four counts (zeros included)."""
    sql, sql_params = _rows(params)
    counts = ", ".join(f"count(*) FILTER (WHERE state = '{state}')" for state in STATES[:3])
    counts += ", count(*) FILTER (WHERE dormant_next)"
    rows = fetch(f"SELECT i, {counts} FROM ({sql}) AS s GROUP BY i", sql_params)  # noqa: S608
    starts = params.range.starts
    periods = [{"start": start.isoformat(), **dict.fromkeys(STATES, 0)} for start in starts]
    for i, new, returning, resurrecting, dormant_next in rows:
        if i >= 1:
            periods[i - 1].update(new=new, returning=returning, resurrecting=resurrecting)
        if dormant_next:
            periods[i]["dormant"] = dormant_next
    return {"period": params.range.period, "periods": periods}


def cell_members(params: LifecycleParams, cell: LifecycleCell) -> tuple[str, list]:
    """The persons counted in one period's state."""
    starts = params.range.starts
    if cell.period not in starts:
        raise InvalidInput({"period": ["Not the start of a period of this report."]})
    if cell.state not in STATES:
        raise InvalidInput({"state": [f"One of {', '.join(STATES)}."]})
    sql, sql_params = _rows(params)
    number = starts.index(cell.period) + 1
    if cell.state == "dormant":  # active in the period before, not in this one
        where, extra = f"i = {number - 1:d} AND dormant_next", []
    else:
        where, extra = f"i = {number:d} AND state = %s", [cell.state]
    return f"SELECT person_id FROM ({sql}) AS s WHERE {where}", [*sql_params, *extra]  # noqa: S608
