"""The event pipeline: what an ingest leaves to the worker, and the job that catches up.

An ingest appends its events and one PendingEvents row in its transaction, and enqueues the
coalesced job there too. The job applies pending rows in chunks, each chunk one transaction that
brings stats, daily activity, follow state and rule tags up to date and deletes the rows it
applied: a chunk that dies half-way rolls back whole, a chunk that runs twice finds its rows
gone (claimed FOR UPDATE SKIP LOCKED, so concurrent workers take different rows).

Events are read back from the event table, not from the pending row, so that they count for
the person they belong to now: a merge that committed after the ingest moved them. The persons
are locked FOR KEY SHARE before anything is written (a merge or erasure, FOR UPDATE, waits for
the chunk), and the events are read again under the lock until no new person turns up.
"""

import logging
import time
from collections import defaultdict
from dataclasses import dataclass

from django.db import DatabaseError, connection
from django.utils import timezone

from config.metrics import EVENTS_APPLIED
from identity.models import Actor, AppKind
from identity.services.follow import FollowObservation, record_follow_changes
from identity.services.locking import key_share_lock_persons
from identity.services.retry import run_atomic_with_retries
from jobs.queue import enqueue
from jobs.runs import error_summary
from profiles.models import PendingEvents
from profiles.services.activity import apply_activity
from profiles.services.follow import FOLLOW_TYPES, FOLLOWING, SUBSCRIBE
from profiles.services.pending import lock_out_applier
from profiles.services.rules import refresh_rule_tags
from profiles.services.stats_updates import StoredEvent, apply_events

logger = logging.getLogger(__name__)

QUEUEING_LOCK = "profiles.apply_pending_events"
CHUNK_ROWS = 20
"""Pending rows per transaction: up to 10,000 events at 500 per ingest, few rule refreshes."""
JOB_SECONDS = 20
"""A job's time budget: then it hands over to a new job (a worker's graceful stop waits for
the running chunk only, and a job never runs forever under constant load)."""
PIPELINE_ACTOR = Actor.system("event pipeline")


def record_pending(events: list[StoredEvent], *, actor: Actor, source: str) -> None:
    """Leave the batch's follow-up to the worker, in the caller's (the ingest's) transaction."""
    if not events:
        return
    PendingEvents.objects.create(
        event_ids=[event.id for event in events],
        occurred_at=[event.occurred_at for event in events],
        event_count=len(events),
        actor_type=actor.type,
        actor_label=actor.label[:200],
        source=source,
    )
    request_catch_up()


def request_catch_up() -> None:
    """Enqueue the pipeline job unless one is already waiting (it will see every row)."""
    from profiles.tasks.pipeline import apply_pending_events_job

    enqueue(apply_pending_events_job, queueing_lock=QUEUEING_LOCK)


def sweep_pending() -> int:
    """Enqueue the job when pending rows exist (the schedule's safety net); return their count.

    Rows outlive a job only when it failed for good or its worker died before the stalled-job
    retry: the sweep makes sure they are applied anyway.
    """
    waiting = PendingEvents.objects.filter(failed_at__isnull=True).count()
    if waiting:
        request_catch_up()
    return waiting


@dataclass
class CatchUp:
    rows: int = 0
    events: int = 0
    persons: int = 0


def apply_pending_events(*, max_chunks: int | None = None, seconds: float | None = None) -> CatchUp:
    """Apply pending rows chunk by chunk until none is left.

    With `max_chunks` or `seconds`, stop after that many chunks or once that time is spent,
    and enqueue the job again if rows remain (a chunk in progress always finishes).
    """
    done = CatchUp()
    deadline = None if seconds is None else time.monotonic() + seconds
    while True:
        try:
            chunk = run_atomic_with_retries(_apply_chunk)
        except DatabaseError:
            # Not a lost race (those are retried): a row of the chunk cannot be applied.
            chunk = _apply_one_by_one()
        if chunk is None:
            return done
        EVENTS_APPLIED.inc(chunk.events)
        done.rows += chunk.rows
        done.events += chunk.events
        done.persons += chunk.persons
        if max_chunks is not None:
            max_chunks -= 1
        if max_chunks == 0 or (deadline is not None and time.monotonic() >= deadline):
            break
    if PendingEvents.objects.filter(failed_at__isnull=True).exists():
        request_catch_up()
    return done


def _apply_one_by_one() -> CatchUp | None:
    """Apply the next chunk's rows one at a time and set aside the ones that fail.

    One row whose events the stats cannot hold (a sum beyond the columns' precision) must not
    stop every tenant's pipeline: it is marked failed, with the error's class and SQLSTATE only
    (the message quotes values), shown in the admin and counted by `/healthz` until an operator
    deals with it.
    """
    row_ids = list(
        PendingEvents.objects.filter(failed_at__isnull=True)
        .order_by("pk")
        .values_list("pk", flat=True)[:CHUNK_ROWS]
    )
    if not row_ids:
        return None
    done = CatchUp()
    for row_id in row_ids:
        try:
            chunk = run_atomic_with_retries(lambda row_id=row_id: _apply_chunk(only=row_id))
        except DatabaseError as exc:
            error = error_summary(exc)
            PendingEvents.objects.filter(pk=row_id).update(failed_at=timezone.now(), error=error)
            logger.error("Pending events #%s set aside: %s", row_id, error)
            continue
        if chunk is not None:
            done.rows += chunk.rows
            done.events += chunk.events
            done.persons += chunk.persons
    return done


def _apply_chunk(only: int | None = None) -> CatchUp | None:
    with connection.cursor() as cursor:
        # One chunk at a time, whichever job or worker runs it: concurrent chunks share a few
        # stats rows and would wait for each other's commit, row by row; in turn they use the
        # database fully. A transaction-level lock dies with its connection (a killed worker
        # holds nothing), which procrastinate's job `lock` would not until its stalled-job
        # retry.
        lock_out_applier(cursor)
        cursor.execute(
            "SELECT id, actor_type, actor_label, source FROM profiles_pendingevents "
            "WHERE failed_at IS NULL AND (%s::bigint IS NULL OR id = %s) "
            "ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED",
            [only, only, CHUNK_ROWS],
        )
        claimed = cursor.fetchall()
    if not claimed:
        return None
    row_ids = [row[0] for row in claimed]
    events, locked = _read_events(row_ids), set()
    while missing := {event.person_id for event, _ in events} - locked:
        # Out of primary-key order only when a merge moved events in between: the lock waits
        # for nothing then, or the transaction retries on a deadlock.
        key_share_lock_persons(missing)
        locked |= missing
        events = _read_events(row_ids)
    stored = [event for event, _ in events]
    apply_events(stored)
    apply_activity(stored)
    _apply_follows(events, {row[0]: row[1:] for row in claimed})
    persons = {event.person_id for event in stored}
    if persons:
        refresh_rule_tags(actor=PIPELINE_ACTOR, person_ids=persons, raise_lost_races=True)
    PendingEvents.objects.filter(pk__in=row_ids).delete()
    return CatchUp(rows=len(row_ids), events=len(stored), persons=len(persons))


@dataclass(frozen=True)
class _FollowFacts:
    row_id: int
    service_account: bool
    scene: str | None


def _read_events(row_ids: list[int]) -> list[tuple[StoredEvent, _FollowFacts]]:
    """The claimed rows' events as they are now; events deleted since (erasure) are gone."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT e.id, e.person_id, e.type, e.occurred_at, e.amount, e.channel, e.event_id,
                   e.app_id, e.origin_person_id, e.identity_id, p.row_id,
                   a.kind = %s AS service_account,
                   CASE WHEN e.type = %s THEN COALESCE(e.properties ->> 'scene', '') END
            FROM (
                SELECT r.id AS row_id, u.id, u.at
                FROM profiles_pendingevents r,
                     unnest(r.event_ids, r.occurred_at) AS u(id, at)
                WHERE r.id = ANY(%s)
            ) AS p
            JOIN profiles_event e ON e.id = p.id AND e.occurred_at = p.at
            LEFT JOIN identity_app a ON a.id = e.app_id
            ORDER BY e.id
            """,
            [AppKind.SERVICE_ACCOUNT, SUBSCRIBE, row_ids],
        )
        return [
            (StoredEvent(*row[:10]), _FollowFacts(row[10], bool(row[11]), row[12]))
            for row in cursor.fetchall()
        ]


def _apply_follows(events, actors: dict[int, tuple[str, str, str]]) -> None:
    """Follow state from subscribe/unsubscribe/scan events of service-account openids, audited
    under the actor and feed that sent them (one entry per sender, as the ingest did)."""
    by_sender: dict[tuple[str, str, str], list[FollowObservation]] = defaultdict(list)
    for event, facts in events:
        if event.type in FOLLOW_TYPES and event.identity_id and facts.service_account:
            by_sender[actors[facts.row_id]].append(
                FollowObservation(
                    identity_pk=event.identity_id,
                    followed=event.type in FOLLOWING,
                    at=event.occurred_at,
                    scene=facts.scene,
                )
            )
    for (actor_type, actor_label, source), observations in sorted(by_sender.items()):
        record_follow_changes(
            observations=observations, actor=Actor(actor_type, actor_label), source=source
        )
