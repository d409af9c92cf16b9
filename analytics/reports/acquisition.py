"""The acquisition report (analytics.md): how many persons are new in each period, and where
they came from (their first acquisition channel, or the app of their first event).

New means the period of the first-ever event (any type), or, when the audience has apps, of
the first event in those apps; acquisition_sql.py tells where each comes from and what
happens once old events are pruned. One statement returns (period, key, count) rows; every
period of the range is listed, empty ones with a total of 0, and keys only where counted.
"""

from django.db import connection

from analytics.params import AcquisitionParams
from analytics.reports.acquisition_sql import acquisition_sql


def compute(params: AcquisitionParams) -> dict:
    """The range's periods, oldest first, each with its new persons by key."""
    sql, sql_params = acquisition_sql(params)
    with connection.cursor() as cursor:
        cursor.execute(sql, sql_params)
        rows = cursor.fetchall()
    starts = params.range.starts
    by_period: list[dict[str, int]] = [{} for _ in starts]
    for index, key, persons in rows:
        by_period[index][key] = persons
    return {
        "period": params.range.period,
        "by": params.by,
        "periods": [
            {"start": start.isoformat(), "total": sum(keys.values()), "by": keys}
            for start, keys in zip(starts, by_period, strict=True)
        ],
    }
