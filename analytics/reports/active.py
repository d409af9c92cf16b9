"""The active users report (analytics.md, "Active users"): DAU, WAU, MAU and stickiness.

Joining every day with the 30 days before it would read each activity row 30 times. Instead a
person active on day x is in the W-day window of days x .. x+W-1; cut at the person's next
active day, these intervals are disjoint, so each contributes +1 at x and -1 at
min(x+W, next day). One statement sorts the activity rows of the range (and of the 29 days
before `from`, where the first days' windows reach) once per person, takes each row's gap to
the person's next row with lead(), and counts the rows per (day, gap capped at 30): a few
thousand groups, from which Python adds up the steps and their running sums. Several rows of
one person and day need no deduplication: all but the last have a gap of 0, whose +1 and -1
cancel.
"""

from collections import Counter
from datetime import timedelta

from analytics.params import ActiveParams
from analytics.reports._rates import rate
from analytics.reports._sql import activity, fetch

WINDOWS = (1, 7, 30)  # the days of DAU, WAU and MAU


def compute(params: ActiveParams) -> dict:
    """Each local day of the range, oldest first."""
    date_from, date_to = params.range.date_from, params.range.date_to
    first = date_from - timedelta(days=max(WINDOWS) - 1)
    active, sql_params = activity(params.audience, params.event, first, date_to + timedelta(1))
    rows = fetch(
        f"""
        SELECT day, least(next - day, {max(WINDOWS):d}), count(*) FROM (
            SELECT a.day, lead(a.day) OVER (PARTITION BY a.person_id ORDER BY a.day) AS next
            FROM ({active}) a
        ) AS seq
        GROUP BY 1, 2
        """,  # noqa: S608 - a fragment of _sql; values are parameters
        sql_params,
    )
    steps = [Counter() for _ in WINDOWS]  # per window: day -> change of the count
    for day, gap, count in rows:
        for width, step in zip(WINDOWS, steps, strict=True):
            step[day] += count
            step[day + timedelta(days=width if gap is None else min(width, gap))] -= count
    counts, days = [0] * len(WINDOWS), []
    day = first
    while day <= date_to:
        counts = [total + step[day] for total, step in zip(counts, steps, strict=True)]
        if day >= date_from:
            dau, wau, mau = counts
            days.append(
                {
                    "date": day.isoformat(),
                    "dau": dau,
                    "wau": wau,
                    "mau": mau,
                    "stickiness": rate(dau, mau),
                }
            )
        day += timedelta(days=1)
    return {"days": days}
