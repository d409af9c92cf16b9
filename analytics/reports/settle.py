"""The settle rate report (analytics.md): how many mini-program visitors follow the service
account, at each period's end and within 7 days of their first visit.

One statement (settle_sql.py) returns a few grouped rows; the per-period numbers are their
running sums. The audience's segment restricts the visitors; its apps do not apply (the two
apps are the report's own parameters, checked against a restricted key by params.py, which
refuses `app`).

An identity's recorded follow times count only before the person's first subscribe /
unsubscribe event in the service account (what a follower import saw before any event): the
events say the rest. Once old events are pruned, visitors and their first day still come from
daily activity, which survives; the exact first visit falls back to that day's midnight, and
the follow timeline keeps only the recorded times for the pruned months (those earlier than
the first event still held).
"""

from django.db import connection

from analytics.params import SettleParams
from analytics.reports._rates import rate
from analytics.reports.settle_sql import settle_sql


def compute(params: SettleParams) -> dict:
    """Each period of the range, oldest first, with its visitors and followers."""
    sql, sql_params, ends = settle_sql(params)
    with connection.cursor() as cursor:
        cursor.execute(sql, sql_params)
        rows = cursor.fetchall()
    count = len(ends)
    totals = {name: [0] * (count + 1) for name in ("visitors", "followers", "new", "settled")}
    for name, first, until, persons in rows:
        if name in ("new", "settled"):
            totals[name][first] += persons
        elif first < until:  # counted in the periods first .. until - 1
            totals[name][first] += persons
            totals[name][until] -= persons
    for name in ("visitors", "followers"):
        running = 0
        for index in range(count):
            running += totals[name][index]
            totals[name][index] = running
    return {
        "periods": [
            {
                "start": start.isoformat(),
                "visitors_total": totals["visitors"][index],
                "followers_among_visitors": totals["followers"][index],
                "settle_rate": rate(totals["followers"][index], totals["visitors"][index]),
                "new_visitors": totals["new"][index],
                "followed_within_7_days": totals["settled"][index],
                "cohort_rate": rate(totals["settled"][index], totals["new"][index]),
            }
            for index, start in enumerate(params.range.starts)
        ]
    }
