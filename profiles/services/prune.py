"""Retention of raw events: fold old events into rollups, then delete them.

Stats survive pruning because rollups keep, per person, origin, type and app, exactly what stats
are computed from (count, amount, first and last time, first channel); the app lets a key
restricted to apps count only its own apps' pruned activity.
"""

from collections.abc import Callable
from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone

from profiles.models import PruneRun
from profiles.services.stats_updates import keep_first_channel


def prune_events(
    *, cutoff: datetime, batch_size: int = 50_000, progress: Callable[[int], None] | None = None
) -> PruneRun:
    """Delete events that occurred before `cutoff`, in batches of persons' oldest events.

    Each batch is one transaction (roll up, then delete), so an interrupted run leaves no
    half-pruned batch and the next run continues where it stopped.
    """
    run = PruneRun.objects.create(cutoff=cutoff)
    while True:
        with transaction.atomic():
            deleted = _prune_batch(cutoff, batch_size)
        if not deleted:
            break
        run.events_deleted += deleted
        PruneRun.objects.filter(pk=run.pk).update(events_deleted=run.events_deleted)
        if progress:
            progress(run.events_deleted)
    run.finished_at = timezone.now()
    run.save(update_fields=["finished_at", "events_deleted"])
    return run


def _prune_batch(cutoff: datetime, batch_size: int) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            """
            WITH doomed AS (
                DELETE FROM profiles_event WHERE id IN (
                    SELECT id FROM profiles_event WHERE occurred_at < %s
                    ORDER BY occurred_at LIMIT %s FOR UPDATE SKIP LOCKED
                )
                RETURNING id, person_id, origin_person_id, type, app_id, occurred_at, amount,
                          channel
            ),
            folded AS (
                SELECT person_id, origin_person_id, type, app_id, count(*) AS n,
                       COALESCE(sum(amount), 0) AS amount,
                       min(occurred_at) AS first_at, max(occurred_at) AS last_at,
                       (array_agg(channel ORDER BY occurred_at, id)
                            FILTER (WHERE channel <> ''))[1] AS channel,
                       (array_agg(occurred_at ORDER BY occurred_at, id)
                            FILTER (WHERE channel <> ''))[1] AS channel_at,
                       (array_agg(id ORDER BY occurred_at, id)
                            FILTER (WHERE channel <> ''))[1] AS channel_event_id
                FROM doomed GROUP BY person_id, origin_person_id, type, app_id
            ),
            merged AS (
                INSERT INTO profiles_eventrollup AS r (person_id, origin_person_id, type, app_id,
                    count, amount_total, first_at, last_at, first_channel, first_channel_at,
                    first_channel_event_id)
                SELECT person_id, origin_person_id, type, app_id, n, amount, first_at, last_at,
                       COALESCE(channel, ''), channel_at, channel_event_id
                FROM folded
                ON CONFLICT (person_id, origin_person_id, type, app_id) DO UPDATE SET
                    count = r.count + EXCLUDED.count,
                    amount_total = r.amount_total + EXCLUDED.amount_total,
                    first_at = LEAST(r.first_at, EXCLUDED.first_at),
                    last_at = GREATEST(r.last_at, EXCLUDED.last_at),
                    {first_channel}
                RETURNING 1
            )
            SELECT (SELECT count(*) FROM doomed), (SELECT count(*) FROM merged)
            """.format(first_channel=keep_first_channel("r")),  # noqa: S608 - constant SQL text
            [cutoff, batch_size],
        )
        return cursor.fetchone()[0]
