"""The daily activity rollup: added to by the pipeline, rebuilt from events where they remain.

The pipeline job adds each chunk of applied events with one commutative upsert (counts and
amounts add), in the transaction that applies their stats. A rebuild recomputes rows from the
applied events (`pending.APPLIED`: the worker adds pending ones later) and only on the days that
events still cover: days before the last prune cutoff or the oldest stored event keep their
rows, which are all that is left of them. PostgreSQL computes the local day in both
(`AT TIME ZONE`), so that the two cannot disagree on a boundary. Changing `ANALYTICS_TIME_ZONE`
moves every boundary: rebuild then (pruned days cannot follow). The SQL is in activity_sql.py.
"""

from collections.abc import Callable, Iterable
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.utils import timezone

from profiles.services.activity_sql import (
    ADD,
    KEY,
    Days,
    Scope,
    covered_days,
    drift_in,
    local_day,
    rewrite,
    scopes,
    time_zone,
)
from profiles.services.stats_updates import StoredEvent

LOCK_BATCH = 2_000
"""Persons locked and rewritten per transaction (their ingests and chunks wait meanwhile)."""
RECENT_DAYS = 62
"""A scope of at most this many recent days reads everyone in one statement, not by ranges."""

Progress = Callable[[int, int, int], None]
"""Called after each batch with (batches done, batches in all, person-days rewritten)."""


def apply_activity(events: Iterable[StoredEvent]) -> None:
    """Add applied events to their persons' daily rows, in the caller's transaction.

    The events must carry their current person, origin and openid (the pipeline reads them
    back from the event table). One statement: grouped per row key and upserted in key order,
    so that concurrent chunks lock shared rows in the same order; the sums commute, so they
    add up exactly.
    """
    rows = [
        (
            event.person_id,
            event.person_id if event.origin_person_id is None else event.origin_person_id,
            event.identity_id,
            event.app_id,
            event.type,
            event.occurred_at,
            event.amount,
        )
        for event in events
    ]
    if not rows:
        return
    names = ("person", "origin", "identity", "app", "type", "at", "amount")
    columns = zip(*rows, strict=True)
    params = {name: list(column) for name, column in zip(names, columns, strict=True)}
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO profiles_dailyactivity AS a ({KEY}, count, amount_total)
            SELECT e.person_id, {local_day("e.occurred_at")}, e.type, e.app_id,
                   e.origin_person_id, e.identity_id, count(*), COALESCE(sum(e.amount), 0)
            FROM unnest(%(person)s::bigint[], %(origin)s::bigint[], %(identity)s::bigint[],
                        %(app)s::bigint[], %(type)s::text[], %(at)s::timestamptz[],
                        %(amount)s::numeric[])
                 AS e(person_id, origin_person_id, identity_id, app_id, type, occurred_at,
                      amount)
            GROUP BY 1, 2, 3, 4, 5, 6
            ORDER BY 1, 2, 3, 4, 5, 6
            ON CONFLICT ({KEY}) DO UPDATE SET {ADD}
            """,  # noqa: S608 - the interpolated text is constant, values are parameters
            {**params, "tz": time_zone()},
        )


def _batches(person_ids: list[int] | None, days: Days | None, covered: Days | None) -> list[Scope]:
    if covered is None:
        return []
    # A few recent days of everyone are one statement; a full scan goes by person ranges.
    asked_from = days[0] if days else None
    recent = asked_from is not None and asked_from >= _today() - timedelta(days=RECENT_DAYS)
    return list(scopes(person_ids, covered, everyone_at_once=recent))


def _today() -> date:
    return timezone.now().astimezone(ZoneInfo(time_zone())).date()


def activity_drift(
    *, person_ids: list[int] | None = None, days: Days | None = None
) -> list[tuple[int, date]]:
    """Return the (person pk, local day) pairs whose stored rows differ from a rebuild.

    Changes nothing. Each batch is one statement, so a pipeline chunk in flight is seen whole
    or not at all (its pending row and its rows commit together): no false drift.
    """
    batches = _batches(person_ids, days, covered_days(days))
    return [pair for scope in batches for pair in drift_in(scope)]


def rebuild_activity(
    *,
    person_ids: list[int] | None = None,
    days: Days | None = None,
    progress: Progress | None = None,
) -> int:
    """Recompute rows from applied events for the scope; return the person-days that differed.

    `days` is a pair of inclusive local dates (either None for open), `person_ids` None for
    everyone (scanned in ranges of person ids). Only the persons with rows that differ from a
    rebuild are rewritten (over the scope's days), so that rebuilding sound rows writes and
    locks nothing; they are recomputed under a lock on them (activity_sql.rewrite), a few
    thousand persons per transaction.
    """
    covered = covered_days(days)
    batches = _batches(person_ids, days, covered)
    rewritten = 0
    for number, scope in enumerate(batches, start=1):
        pairs = drift_in(scope)
        persons = sorted({person for person, _ in pairs})
        for chunk in scopes(persons, covered, batch=LOCK_BATCH):
            with transaction.atomic():
                rewrite(chunk)
        rewritten += len(pairs)
        if progress:
            progress(number, len(batches), rewritten)
    return rewritten


def repair_activity(*, days: int = 2) -> int:
    """Rebuild the last `days` local days (today included) for everyone; return the
    person-days rewritten. The nightly "rollup repair": it writes nothing when all is sound."""
    return rebuild_activity(days=(_today() - timedelta(days=days - 1), None))
