"""SQL of the daily activity rollup: its key, the local day, and the statements of a rebuild.

Kept apart from services/activity.py so that the rebuild and the drift check share one
definition of "the rows events make" (`REBUILT`) and of the days events still cover.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

from django.conf import settings
from django.db import connection

from profiles.services.pending import APPLIED

KEY = "person_id, day, type, app_id, origin_person_id, identity_id"
"""A row's key in the unique index's order; every write goes in this order (no deadlocks)."""
ADD = "count = a.count + EXCLUDED.count, amount_total = a.amount_total + EXCLUDED.amount_total"
"""The SET clause of an upsert into rows aliased `a`: counts and amounts add up."""
PERSON_BATCH = 20_000
"""Person ids per scan of a full rebuild or check (one statement each)."""

Days = tuple[date | None, date | None]
"""Inclusive local dates, None for open."""


def local_day(column: str) -> str:
    """SQL of the local calendar day of a timestamptz column (parameter `tz`)."""
    return f"({column} AT TIME ZONE %(tz)s)::date"


def time_zone() -> str:
    """The zone of the local days (read at call time, never at import)."""
    return settings.ANALYTICS_TIME_ZONE


REBUILT = f"""
    SELECT e.person_id, {local_day("e.occurred_at")} AS day, e.type, e.app_id,
           e.origin_person_id, e.identity_id, count(*) AS count,
           COALESCE(sum(e.amount), 0) AS amount_total
    FROM profiles_event e WHERE {APPLIED} AND {{where}}
    GROUP BY 1, 2, 3, 4, 5, 6
"""  # noqa: S608 - constant SQL text; values are parameters
"""The rows that the applied events matching `where` make, in a rebuild."""


def covered_days(days: Days | None = None) -> tuple[date, date | None] | None:
    """The part of `days` that stored events cover; None when that is nothing.

    Covered are the days from the first local day wholly after the latest prune cutoff, and
    not before the oldest stored event's day (for events dropped some other way); none when
    no event is stored. Days before keep their rows: nothing else remains of them. The oldest
    event is found per type on the (type, occurred_at) index, a probe per type and partition.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT (SELECT ((max(cutoff) AT TIME ZONE %(tz)s) - interval '1 microsecond')::date
                           + 1 FROM profiles_prunerun),
                   (SELECT (min(oldest) AT TIME ZONE %(tz)s)::date FROM (
                        SELECT (SELECT min(e.occurred_at) FROM profiles_event e
                                WHERE e.type = t.key) AS oldest
                        FROM profiles_eventtype t) AS per_type)
            """,
            {"tz": time_zone()},
        )
        pruned_before, oldest = cursor.fetchone()
    if oldest is None:
        return None
    first, last = days or (None, None)
    first = max(day for day in (first, pruned_before, oldest) if day is not None)
    if last is not None and last < first:
        return None
    return first, last


@dataclass(frozen=True)
class Scope:
    """One batch of a rebuild or check: the same persons and days, on rows `a`, events `e`."""

    rows: str
    events: str
    params: dict


def scopes(
    person_ids: list[int] | None,
    days: tuple[date, date | None],
    *,
    everyone_at_once: bool = False,
    batch: int = PERSON_BATCH,
) -> Iterator[Scope]:
    """The batches of a scope: given persons in lists of `batch`, everyone in ranges of person
    ids, or (`everyone_at_once`, for a few recent days) everyone's days in one statement."""
    first, last = days
    rows = ["a.day >= %(first)s"]
    # The local days as a range of occurred_at, for the index and partition pruning.
    events = ["e.occurred_at >= (%(first)s::date::timestamp AT TIME ZONE %(tz)s)"]
    if last is not None:
        rows.append("a.day <= %(last)s")
        events.append("e.occurred_at < ((%(last)s::date + 1)::timestamp AT TIME ZONE %(tz)s)")
    params = {"first": first, "last": last, "tz": time_zone()}

    def scope(persons: str, **extra) -> Scope:
        return Scope(
            " AND ".join([persons.format(t="a"), *rows]),
            " AND ".join([persons.format(t="e"), *events]),
            {**params, **extra},
        )

    if person_ids is not None:
        ids = sorted(set(person_ids))
        for start in range(0, len(ids), batch):
            yield scope("{t}.person_id = ANY(%(ids)s)", ids=ids[start : start + batch])
    elif everyone_at_once:
        yield scope("TRUE")
    else:
        with connection.cursor() as cursor:
            cursor.execute("SELECT min(id), max(id) FROM identity_person")
            low, high = cursor.fetchone()
        for start in range(low or 0, (high or -1) + 1, batch):
            yield scope(
                "{t}.person_id >= %(low)s AND {t}.person_id < %(high)s",
                low=start,
                high=start + batch,
            )


def drift_in(scope: Scope) -> list[tuple[int, date]]:
    """(person, day) pairs whose stored rows differ from a rebuild, in one snapshot."""
    rebuilt = REBUILT.format(where=scope.events)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH rebuilt AS ({rebuilt}),
                 stored AS (SELECT {KEY}, count, amount_total
                            FROM profiles_dailyactivity a WHERE {scope.rows})
            SELECT DISTINCT person_id, day FROM (
                (TABLE stored EXCEPT ALL TABLE rebuilt)
                UNION ALL (TABLE rebuilt EXCEPT ALL TABLE stored)
            ) AS differing
            ORDER BY 1, 2
            """,  # noqa: S608 - the interpolated text is constant, values are parameters
            scope.params,
        )
        return cursor.fetchall()


def rewrite(scope: Scope) -> None:
    """Lock the scope's persons FOR UPDATE, then recompute their rows from applied events.

    The pipeline takes its persons FOR KEY SHARE before it writes, so it waits for the lock
    and this waits for a chunk in flight: what is recomputed here is what is committed then,
    and events still pending are added by the worker afterwards, once. Whole persons over the
    scope's days, not single days: one index scan per partition for all of them.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id FROM identity_person WHERE id = ANY(%(ids)s) ORDER BY id FOR UPDATE",
            scope.params,
        )
        cursor.execute(
            f"DELETE FROM profiles_dailyactivity a WHERE {scope.rows}",  # noqa: S608
            scope.params,
        )
        cursor.execute(
            f"INSERT INTO profiles_dailyactivity ({KEY}, count, amount_total) "
            f"{REBUILT.format(where=scope.events)} ORDER BY 1, 2, 3, 4, 5, 6",
            scope.params,
        )
