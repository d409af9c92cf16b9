"""Retention of raw events: fold whole months into rollups, then drop their partitions.

Stats survive pruning because rollups keep, per person, origin, type and app, exactly what stats
are computed from (count, amount, first and last time, first channel); the app lets a key
restricted to apps count only its own apps' pruned activity. Dropping a partition replaces the
row-by-row deletes of before: no index scan by time, no dead rows left for vacuum.

Each partition is one transaction: lock it against writes (SHARE: reads go on), check that the
pipeline has applied all its events, fold it, detach and drop it. An interrupted run leaves
every partition either whole or gone. Events still pending (not in the stats yet) would be
counted in the rollups and then never applied by the worker, which reads them from the event
table: a partition holding any is skipped and reported, and pruned by a later run.

DETACH takes ACCESS EXCLUSIVE on the event table, which waits for its readers and holds up
ingest meanwhile: the locks are taken with a short timeout, and the partition is skipped
("busy") when one runs out. A merge moving events waits for the fold (seconds for a month of
hundreds of thousands of events) and may then deadlock with the DETACH; PostgreSQL cancels one
of the two, and a cancelled prune skips the partition the same way. The event keys of pruned
events stay in the ledger (see EventKey).
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.db import OperationalError, connection, transaction
from django.utils import timezone

from profiles.models import PruneRun
from profiles.services.partitions import PARENT, Partition, event_partitions, forget_months
from profiles.services.stats_updates import keep_first_channel

logger = logging.getLogger(__name__)

LOCK_TIMEOUT = "2s"
DROPPED, PENDING, BUSY = "dropped", "pending", "busy"


@dataclass(frozen=True)
class PartitionOutcome:
    """What happened to one partition: dropped (with its events folded) or skipped, and why."""

    name: str
    status: str
    events: int = 0


def prune_events(
    *, cutoff: datetime, progress: Callable[[PartitionOutcome], None] | None = None
) -> PruneRun:
    """Fold and drop every month partition that ends at or before `cutoff`, oldest first.

    The run records the events folded; `run.outcomes` lists each partition's outcome (not
    stored), so that a caller can report the skipped ones.
    """
    run = PruneRun.objects.create(cutoff=cutoff)
    run.outcomes = []
    for partition in event_partitions():
        if partition.end > cutoff:
            break
        outcome = _prune_partition(partition)
        run.outcomes.append(outcome)
        if outcome.status == DROPPED:
            run.events_deleted += outcome.events
            PruneRun.objects.filter(pk=run.pk).update(events_deleted=run.events_deleted)
        else:
            logger.warning("prune skipped partition %s: %s", outcome.name, outcome.status)
        if progress:
            progress(outcome)
    run.finished_at = timezone.now()
    run.save(update_fields=["finished_at", "events_deleted"])
    return run


def _prune_partition(partition: Partition) -> PartitionOutcome:
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
            cursor.execute(f"LOCK TABLE {partition.name} IN SHARE MODE")
            if _has_pending(cursor, partition):
                return PartitionOutcome(partition.name, PENDING)
            folded = _fold(cursor, partition)
            # A table with deferred foreign-key checks pending cannot be dropped: run them now.
            # Only a transaction that inserted events before pruning has any (a test's).
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(f"ALTER TABLE {PARENT} DETACH PARTITION {partition.name}")
            cursor.execute(f"DROP TABLE {partition.name}")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")  # every deferrable one is initially
    except OperationalError as exc:
        # lock_not_available (the timeout) or deadlock_detected: nothing was changed.
        if getattr(exc.__cause__, "sqlstate", None) not in {"55P03", "40P01"}:
            raise
        return PartitionOutcome(partition.name, BUSY)
    forget_months([partition.start])
    return PartitionOutcome(partition.name, DROPPED, folded)


def _has_pending(cursor, partition: Partition) -> bool:
    cursor.execute(
        "SELECT EXISTS (SELECT FROM profiles_pendingevents p, unnest(p.occurred_at) AS t(at) "
        "WHERE t.at >= %s AND t.at < %s)",
        [partition.start, partition.end],
    )
    return cursor.fetchone()[0]


def _fold(cursor, partition: Partition) -> int:
    """Add the partition's events to the rollups (merged into existing ones); return their count."""
    cursor.execute(
        f"""
        WITH folded AS (
            SELECT person_id, origin_person_id, type, app_id, count(*) AS n,
                   COALESCE(sum(amount), 0) AS amount,
                   min(occurred_at) AS first_at, max(occurred_at) AS last_at,
                   (array_agg(channel ORDER BY occurred_at, id)
                        FILTER (WHERE channel <> ''))[1] AS channel,
                   (array_agg(occurred_at ORDER BY occurred_at, id)
                        FILTER (WHERE channel <> ''))[1] AS channel_at,
                   (array_agg(id ORDER BY occurred_at, id)
                        FILTER (WHERE channel <> ''))[1] AS channel_event_id
            FROM {partition.name} GROUP BY person_id, origin_person_id, type, app_id
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
                {keep_first_channel("r")}
            RETURNING 1
        )
        SELECT COALESCE(sum(n), 0), (SELECT count(*) FROM merged) FROM folded
        """  # noqa: S608 - our partition name, constant SQL text
    )
    return int(cursor.fetchone()[0])
