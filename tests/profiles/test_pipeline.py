"""The event pipeline in one process: what an ingest leaves pending, and the job that applies it.

The worker process itself (killed mid-job, down while ingest goes on) is exercised in
tests/faults/test_pipeline_worker.py; here the job's function runs in the test's process, with
merges, undos and erasures between ingest and job.
"""

import contextlib
import random
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from identity.exceptions import Conflict
from identity.models import AppKind, MergeRecord
from identity.services.merge import merge_persons
from identity.services.resolve import resolve_identity
from identity.services.undo import undo_merge
from profiles.models import PendingEvents, PersonEventStats, PersonStats
from profiles.services import pipeline
from profiles.services.activity import activity_drift
from profiles.services.ingest import ingest_events
from profiles.services.stats_rebuild import rebuild_all_stats
from tests.profiles.test_stats import TYPES, snapshot

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _worker_not_inline(settings):
    settings.JOBS_RUN_INLINE = False


def _waiting_jobs() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM procrastinate_jobs WHERE queueing_lock = %s AND status = 'todo'",
            [pipeline.QUEUEING_LOCK],
        )
        return cursor.fetchone()[0]


def _event(app, openid, number, type_="view", days_ago=1, **extra):
    at = timezone.now() - timedelta(days=days_ago, minutes=number)
    return {
        "event_id": f"p-{openid}-{number}",
        "appid": app.appid,
        "openid": openid,
        "type": type_,
        "occurred_at": at.isoformat(),
        **extra,
    }


def test_ingest_leaves_stats_to_one_coalesced_job(miniprogram, actor):
    first = ingest_events(events=[_event(miniprogram, "oA", n) for n in range(3)], actor=actor)
    second = ingest_events(events=[_event(miniprogram, "oB", n) for n in range(2)], actor=actor)

    assert (first.accepted, second.accepted) == (3, 2)
    assert PersonStats.objects.count() == 0
    assert sorted(PendingEvents.objects.values_list("event_count", flat=True)) == [2, 3]
    assert _waiting_jobs() == 1  # the second ingest found the first one's job waiting

    done = pipeline.apply_pending_events()

    assert (done.rows, done.events, done.persons) == (2, 5, 2)
    assert sorted(PersonStats.objects.values_list("event_count", flat=True)) == [2, 3]
    assert not PendingEvents.objects.exists()
    assert rebuild_all_stats(dry_run=True)[1] == 0


def test_a_job_that_runs_again_changes_nothing(miniprogram, actor):
    ingest_events(
        events=[_event(miniprogram, "oA", n, "pay", amount="5") for n in range(2)], actor=actor
    )
    pipeline.apply_pending_events()
    before = snapshot()

    again = pipeline.apply_pending_events()

    assert again.events == 0
    assert snapshot() == before


def test_a_rebuild_leaves_pending_events_to_the_worker(miniprogram, actor):
    ingest_events(events=[_event(miniprogram, "oA", 1)], actor=actor)
    pipeline.apply_pending_events()
    ingest_events(events=[_event(miniprogram, "oA", 2)], actor=actor)

    assert rebuild_all_stats(dry_run=True)[1] == 0  # the pending event is not drift
    pipeline.apply_pending_events()

    assert PersonStats.objects.get().event_count == 2
    assert rebuild_all_stats(dry_run=True)[1] == 0


def test_events_count_for_the_survivor_of_a_merge_made_before_the_job(miniprogram, h5, actor):
    older = resolve_identity(app=miniprogram, openid="oA", actor=actor).person
    younger = resolve_identity(app=h5, openid="oB", actor=actor).person
    ingest_events(events=[_event(miniprogram, "oA", 1, "pay", amount="10")], actor=actor)
    pipeline.apply_pending_events()
    ingest_events(events=[_event(h5, "oB", 2, "pay", amount="5")], actor=actor)

    record = merge_persons(first=older, second=younger, reason="manual", actor=actor)
    pipeline.apply_pending_events()

    survivor = PersonStats.objects.get(person=record.survivor)
    assert (survivor.pay_count, str(survivor.pay_total)) == (2, "15.00")
    assert not PersonStats.objects.filter(person=record.loser).exists()
    assert rebuild_all_stats(dry_run=True)[1] == 0


def test_follow_state_is_applied_by_the_job_under_the_sender(service_account, actor):
    from identity.models import AuditEntry, Identity

    ingest_events(
        events=[_event(service_account, "oSvcA", 1, "subscribe", properties={"scene": "qr"})],
        actor=actor,
    )
    identity = Identity.objects.get(app=service_account)
    assert not identity.followed

    pipeline.apply_pending_events()

    identity.refresh_from_db()
    assert (identity.followed, identity.subscribe_scene) == (True, "qr")
    entry = AuditEntry.objects.get(action="identity.follow")
    assert entry.actor == actor.label
    assert entry.after["source"] == "events"


def test_rule_tags_follow_the_applied_stats(miniprogram, actor):
    from profiles.models import TagAssignment

    ingest_events(
        events=[_event(miniprogram, "oA", n, "pay", amount="1") for n in range(2)], actor=actor
    )
    assert not TagAssignment.objects.filter(tag__key="repeat_buyer").exists()

    pipeline.apply_pending_events()

    assert TagAssignment.objects.filter(tag__key="repeat_buyer").count() == 1


def test_a_random_stream_with_merges_and_undos_between_chunks_equals_a_rebuild(make_app, actor):
    rng = random.Random(20261201)
    apps = [make_app("wx00000000000000b1"), make_app("wx00000000000000b2", AppKind.H5)]
    records = []
    for step in range(60):
        app = rng.choice(apps)
        batch = [
            _event(
                app,
                f"o{app.pk}u{rng.randrange(10)}",
                step * 100 + number,
                rng.choice(TYPES),
                days_ago=rng.randrange(0, 40),
                amount=f"{rng.randrange(0, 9000) / 100:.2f}",
                channel=rng.choice(["", "qr", "article"]),
            )
            for number in range(rng.randrange(1, 12))
        ]
        ingest_events(events=batch, actor=actor)
        roll = rng.random()
        if roll < 0.3:
            pipeline.apply_pending_events(max_chunks=1)
        elif roll < 0.45:
            first, second = (
                resolve_identity(
                    app=apps[0], openid=f"o{apps[0].pk}u{rng.randrange(10)}", actor=actor
                ).person,
                resolve_identity(
                    app=apps[1], openid=f"o{apps[1].pk}u{rng.randrange(10)}", actor=actor
                ).person,
            )
            # Persons with openids in the same app cannot merge: a conflict, skipped.
            with contextlib.suppress(Conflict):
                records.append(
                    merge_persons(first=first, second=second, reason="manual", actor=actor)
                )
        elif roll < 0.55 and records:
            record = records.pop(rng.randrange(len(records)))
            with contextlib.suppress(Conflict):  # a later merge may stand in the way
                undo_merge(record=record, actor=actor)
    pipeline.apply_pending_events()

    assert MergeRecord.objects.filter(undone_at__isnull=True).exists()
    assert MergeRecord.objects.filter(undone_at__isnull=False).exists()
    assert not PendingEvents.objects.exists()
    assert PersonEventStats.objects.exists()
    assert rebuild_all_stats(dry_run=True)[1] == 0
    assert activity_drift() == []


def test_a_row_the_stats_cannot_hold_is_set_aside_and_the_rest_go_on(miniprogram, actor):
    # Given a person whose payments already fill the stats' precision
    ingest_events(events=[_event(miniprogram, "oFull", 1, "pay", amount="1")], actor=actor)
    pipeline.apply_pending_events()
    PersonStats.objects.update(pay_total="99999999999999.00")
    PersonEventStats.objects.filter(type="pay").update(amount_total="99999999999999.00")
    # and, behind a payment of theirs that overflows it, another person's events
    ingest_events(events=[_event(miniprogram, "oFull", 2, "pay", amount="10")], actor=actor)
    ingest_events(events=[_event(miniprogram, "oNext", 3, "view")], actor=actor)

    done = pipeline.apply_pending_events()

    failed = PendingEvents.objects.get()
    assert failed.failed_at is not None
    assert failed.error == "NumericValueOutOfRange (SQLSTATE 22003)"
    assert done.events == 1
    assert PersonStats.objects.filter(event_count=1).count() == 2  # oNext applied, oFull not
    assert pipeline.sweep_pending() == 0  # nothing left that a job could apply
