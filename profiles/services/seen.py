"""First and last seen by resolves and logins: one set-wise upsert on the persons' stats.

Events set first/last seen through the pipeline (stats_updates.py); a resolve or a login has no
event, so identity calls `record_seen` (registered in ProfilesConfig.ready, see identity.seen)
inside its transaction. Resolve is the hot lookup path, so the statement writes only what moves
a time by more than `GRANULARITY`: a person resolved a hundred times an hour costs one index
probe per resolve and one write per hour, no lock. The lifecycle tags count in days, so an hour
changes nobody's tag.

The resolve times are kept apart (`first_resolved_at`, `last_resolved_at`) beside the seen
times they widen, so that a rebuild from events (stats_rebuild.py) derives the seen times
exactly and the reports keep starting a person at their first event (`first_event_at`).
A merged-away person's sighting goes to its survivor; `carry_seen` gives a merge's survivor
the loser's resolve times.
"""

from collections.abc import Collection
from datetime import datetime, timedelta

from django.db import connection

from identity import person_cache

GRANULARITY = timedelta(hours=1)


# A sighting that need not survive a crash (identity.seen.record_sighting) commits without
# waiting for the WAL flush: set in the statement itself, so that its own implicit transaction
# is the one concerned and the fast path keeps a single round trip.
_NO_FLUSH_WAIT = "AND set_config('synchronous_commit', 'off', true) IS NOT NULL"


def record_seen(person_ids: Collection[int], at: datetime, *, durable: bool = True) -> None:
    """Set first_seen_at (the earliest) and last_seen_at (the latest) of these persons to `at`
    where that changes them by more than GRANULARITY; create their stats row if need be.

    `durable=False` is for a statement of its own (autocommit) that changes nothing else."""
    ids = sorted(set(person_ids))  # person order, as the pipeline's upserts: no deadlock
    if not ids:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO profiles_personstats AS s (
                person_id, event_count, first_seen_at, last_seen_at, first_resolved_at,
                last_resolved_at, first_channel, pay_count, pay_total, updated_at)
            SELECT DISTINCT COALESCE(p.merged_into_id, p.id), 0, %(at)s, %(at)s, %(at)s,
                   %(at)s, '', 0, 0, now()
            FROM identity_person p
            WHERE p.id = ANY(%(ids)s) AND p.erased_at IS NULL {flush}
              AND NOT EXISTS (
                SELECT 1 FROM profiles_personstats fresh
                WHERE fresh.person_id = COALESCE(p.merged_into_id, p.id)
                  AND fresh.first_resolved_at <= %(at)s
                  AND fresh.last_resolved_at >= %(at)s::timestamptz - %(granularity)s)
            ORDER BY 1
            ON CONFLICT (person_id) DO UPDATE SET
                first_seen_at = LEAST(s.first_seen_at, EXCLUDED.first_seen_at),
                last_seen_at = GREATEST(s.last_seen_at, EXCLUDED.last_seen_at),
                first_resolved_at = LEAST(s.first_resolved_at, EXCLUDED.first_resolved_at),
                last_resolved_at = GREATEST(s.last_resolved_at, EXCLUDED.last_resolved_at),
                updated_at = now()
            RETURNING s.person_id
            """.format(flush="" if durable else _NO_FLUSH_WAIT),  # noqa: S608 - a constant
            {"ids": ids, "at": at, "granularity": GRANULARITY},
        )
        person_cache.changed(row[0] for row in cursor.fetchall())


def carry_seen(*, survivor_id: int, loser_id: int) -> None:
    """Give a merge's survivor the loser's resolve times (the earlier first, the later last);
    the rebuild that follows derives both persons' seen times from their events and these."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO profiles_personstats AS s (
                person_id, event_count, first_resolved_at, last_resolved_at, first_channel,
                pay_count, pay_total, updated_at)
            SELECT %(survivor)s, 0, l.first_resolved_at, l.last_resolved_at, '', 0, 0, now()
            FROM profiles_personstats l
            WHERE l.person_id = %(loser)s AND l.last_resolved_at IS NOT NULL
            ON CONFLICT (person_id) DO UPDATE SET
                first_resolved_at = LEAST(s.first_resolved_at, EXCLUDED.first_resolved_at),
                last_resolved_at = GREATEST(s.last_resolved_at, EXCLUDED.last_resolved_at),
                updated_at = now()
            """,
            {"survivor": survivor_id, "loser": loser_id},
        )
        # Moved, not copied: the loser's rebuild then drops its row, as before.
        cursor.execute(
            "UPDATE profiles_personstats SET first_resolved_at = NULL, last_resolved_at = NULL "
            "WHERE person_id = %s",
            [loser_id],
        )
