"""SQL shared by the reports over daily activity: who was active when, and period numbers.

Retention, lifecycle and active users all start from the same rows, the (person, local day)
pairs of the audience's activity of one type (or any) within some days, so that the apps, the
restricted keys and the segment apply alike in all three. Periods are numbered from a base
period (0, 1, 2, ...) in SQL, so that "the period after" and "k periods later" are integer
arithmetic and a report stays one statement whatever the number of periods.

The reports compose their statements from these fragments (hence their `noqa: S608`): every
value from a request is a parameter; only aliases, SQL text of our own, integers and dates
formatted from `date` objects are interpolated.
"""

from datetime import date

from django.conf import settings
from django.db import connection

from analytics.audience import Audience
from analytics.periods import DAY, WEEK, local_midnight


def activity(
    audience: Audience, event_type: str | None, first: date, end: date, *, alias: str = "a"
) -> tuple[str, list]:
    """`SELECT person_id, day` of the audience's activity of a type (None: any) on local days
    [first, end), one row per activity row (callers group or deduplicate)."""
    where, params = audience.where(alias)
    typed = ""
    if event_type is not None:
        typed = f" AND {alias}.type = %s"
        params.append(event_type)
    sql = (
        f"SELECT {alias}.person_id, {alias}.day FROM profiles_dailyactivity {alias}"  # noqa: S608
        f" WHERE {where}{typed} AND {alias}.day >= %s AND {alias}.day < %s"
    )
    return sql, [*params, first, end]


def earlier(
    audience: Audience, event_type: str | None, person: str, before: date
) -> tuple[str, list]:
    """A condition: the person in column `person` has activity of the type (in the audience's
    apps) before a day. One short probe of the (person, day, type, app) key per person: OFFSET 0
    keeps the planner from hashing every earlier row instead, which costs the whole history.
    The segment is left out, as it restricts people, not their history."""
    apps, params = audience.events_sql("b")
    typed = ""
    if event_type is not None:
        typed = " AND b.type = %s"
        params.append(event_type)
    sql = (
        f"EXISTS (SELECT 1 FROM profiles_dailyactivity b WHERE b.person_id = {person}"  # noqa: S608
        f" AND b.day < %s AND {apps}{typed} OFFSET 0)"
    )
    return sql, [before, *params]


def first_days(
    audience: Audience, event_type: str | None, first: date, end: date
) -> tuple[str, list]:
    """`SELECT person_id, day`: the persons whose first-ever activity of a type (None: any) in
    the audience's apps is on a local day of [first, end), and that day.

    Over every app, the stats hold it (PersonStats.first_event_at, PersonEventStats.first_at:
    the earliest event, pruned ones included), a range read instead of a probe of earlier
    activity per person. With apps (`app`, a restricted key), the first in those apps is the
    first day of activity there: the persons active in the range without earlier activity.
    Both count the events the pipeline applied, in the same transaction; they differ only for
    events pruned before daily activity existed, which the stats remember and activity cannot.
    """
    if audience.app_ids is not None:
        rows, params = activity(audience, event_type, first, end, alias="s")
        before, before_params = earlier(audience, event_type, "f.person_id", first)
        sql = (
            "SELECT f.person_id, f.day FROM (SELECT s.person_id, min(s.day) AS day"  # noqa: S608
            f" FROM ({rows}) s GROUP BY s.person_id) f WHERE NOT {before}"
        )
        return sql, params + before_params
    if event_type is None:
        table, column, typed, params = "profiles_personstats", "first_event_at", "", []
    else:
        table, column = "profiles_personeventstats", "first_at"
        typed, params = " AND f.type = %s", [event_type]
    persons, person_params = audience.persons_sql("f.person_id")
    sql = (
        f"SELECT f.person_id, (f.{column} AT TIME ZONE %s)::date AS day"  # noqa: S608
        f" FROM {table} f WHERE f.{column} >= %s AND f.{column} < %s{typed} AND {persons}"
    )
    bounds = [local_midnight(first), local_midnight(end)]
    return sql, [settings.ANALYTICS_TIME_ZONE, *bounds, *params, *person_params]


def period_number(column: str, base: date, period: str) -> str:
    """SQL of the number of the period holding the date in `column`, the period starting on
    `base` being 0 (`column` must not be before `base`). Inlined from a date, not a parameter,
    so that it can be repeated anywhere in a statement."""
    if period == DAY:
        return f"({column} - DATE '{base.isoformat()}')"
    if period == WEEK:
        return f"(({column} - DATE '{base.isoformat()}') / 7)"
    months = base.year * 12 + base.month - 1
    return (
        f"((extract(year FROM {column})::int * 12 + extract(month FROM {column})::int - 1)"
        f" - {months})"
    )


def fetch(sql: str, params: list) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()
