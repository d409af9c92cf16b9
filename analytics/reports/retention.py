"""The retention report (analytics.md, "Retention"): cohorts by period and their returns.

One statement over daily activity: the cohorts (each person's period of their first-ever start
event, or every period of one in `recurring` mode; periods numbered from the range's first),
the periods in which their persons did the return event, and the counts per (cohort, offset).
The returns are the return rows of the range joined to the cohorts and sorted once per person
and cohort: a window's lag() keeps the first row of each period (a person counts once per
period) and its lead() finds the last return, which is all a cumulative count needs (returned
at offset k or later); hashing every (person, period) pair instead costs more at a million
persons. "First-ever" comes from _sql.first_days (the stats, or earlier activity with apps).
The cumulative suffix sums are added up in Python over the few grouped rows.
"""

from analytics.params import FIRST_TIME, RetentionCell, RetentionParams
from analytics.periods import next_period
from analytics.reports._sql import activity, fetch, first_days, period_number
from identity.exceptions import InvalidInput


def _ctes(params: RetentionParams) -> tuple[str, list]:
    """`WITH cohort(person_id, c), seq(person_id, c, r, prev, next)`: the cohorts' persons, and
    each return row after their cohort with the person's previous and next return periods."""
    starts, period = params.range.starts, params.range.period
    first, end = starts[0], next_period(starts[-1], period)
    audience = params.audience
    if params.mode == FIRST_TIME:
        started, cohort_params = first_days(audience, params.start_event, first, end)
        cohort = f"SELECT s.person_id, {period_number('s.day', first, period)} AS c"
    else:
        started, cohort_params = activity(audience, params.start_event, first, end)
        cohort = f"SELECT DISTINCT s.person_id, {period_number('s.day', first, period)} AS c"
    returned, returned_params = activity(audience, params.return_event, first, end, alias="r")
    sql = f"""
        WITH cohort AS MATERIALIZED ({cohort} FROM ({started}) s),
        seq AS (
            SELECT person_id, c, r, lag(r) OVER w AS prev, lead(r) OVER w AS next FROM (
                SELECT cohort.person_id, cohort.c, {period_number("r.day", first, period)} AS r
                FROM ({returned}) r JOIN cohort ON cohort.person_id = r.person_id
            ) AS ret
            WHERE r > c
            WINDOW w AS (PARTITION BY person_id, c ORDER BY r)
        )
    """  # noqa: S608 - fragments of _sql; values are parameters
    return sql, cohort_params + returned_params


def _counted(params: RetentionParams) -> str:
    """The rows of `seq` that count: each return period once, or (cumulative) the last one."""
    return "next IS NULL" if params.cumulative else "prev IS DISTINCT FROM r"


def compute(params: RetentionParams) -> dict:
    """The cohorts of the range, oldest first, each with its values up to the range's end."""
    ctes, sql_params = _ctes(params)
    rows = fetch(
        f"""{ctes}
        SELECT c, 0 AS k, count(*) FROM cohort GROUP BY c
        UNION ALL
        SELECT c, r - c, count(*) FROM seq WHERE {_counted(params)} GROUP BY 1, 2
        """,  # noqa: S608 - constant SQL text of our own; values are parameters
        sql_params,
    )
    starts = params.range.starts
    values = [[0] * (len(starts) - index) for index in range(len(starts))]
    for c, k, count in rows:
        values[c][k] = count
    if params.cumulative:  # returned last at offset k: counted at every offset up to k
        for row in values:
            for k in range(len(row) - 2, 0, -1):
                row[k] += row[k + 1]
    return {
        "period": params.range.period,
        "mode": params.mode,
        "cumulative": params.cumulative,
        "cohorts": [
            {"start": start.isoformat(), "size": row[0], "values": row}
            for start, row in zip(starts, values, strict=True)
        ],
    }


def cell_members(params: RetentionParams, cell: RetentionCell) -> tuple[str, list]:
    """The persons of one cell: a cohort (offset 0) or its returners at offset k (or later,
    when cumulative), as the report counts them."""
    starts = params.range.starts
    if cell.cohort not in starts:
        raise InvalidInput({"cohort": ["Not the start of a cohort of this report."]})
    index = starts.index(cell.cohort)
    if not 0 <= cell.offset < len(starts) - index:
        raise InvalidInput({"offset": ["Beyond the last period of the range for this cohort."]})
    ctes, sql_params = _ctes(params)
    if cell.offset == 0:
        return f"{ctes} SELECT person_id FROM cohort WHERE c = {index:d}", sql_params  # noqa: S608
    compare = ">=" if params.cumulative else "="
    sql = (
        f"{ctes} SELECT person_id FROM seq WHERE c = {index:d}"  # noqa: S608
        f" AND r {compare} {index + cell.offset:d} AND {_counted(params)}"
    )
    return sql, sql_params
