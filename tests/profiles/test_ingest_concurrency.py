"""Parallel batches on a real PostgreSQL, each thread with its own connection."""

from decimal import Decimal

import pytest

from identity.models import Identity, Person
from profiles.models import Event, PersonEventStats, PersonStats
from profiles.services.ingest import ingest_events
from profiles.services.stats_rebuild import rebuild_all_stats
from tests.clock import iso_ago
from tests.identity.test_concurrency import run_in_threads

# serialized_rollback: the flush after a transactional test must not drop migration data
# (the built-in event types) that later tests rely on.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

THREADS = 16
PER_BATCH = 50


def test_parallel_batches_for_one_new_person_give_exact_counts(miniprogram, actor):
    def batch(thread):
        events = [
            {
                "event_id": f"t{thread}-{number}",
                "appid": miniprogram.appid,
                "openid": "oHot",
                "type": "pay" if number % 5 == 0 else "view",
                "amount": "1.25" if number % 5 == 0 else None,
                "occurred_at": f"2026-10-{1 + number % 28:02d}T{thread % 24:02d}:00:00Z",
                "channel": f"ch{thread}",
            }
            for number in range(PER_BATCH)
        ]
        events = [{k: v for k, v in e.items() if v is not None} for e in events]
        return ingest_events(events=events, actor=actor)

    results = run_in_threads(THREADS, batch)

    assert sum(result.accepted for result in results) == THREADS * PER_BATCH
    assert Person.objects.count() == 1
    assert Identity.objects.count() == 1
    stats = PersonStats.objects.get()
    assert stats.event_count == THREADS * PER_BATCH == Event.objects.count()
    assert stats.pay_count == THREADS * PER_BATCH // 5
    assert stats.pay_total == Decimal("1.25") * (THREADS * PER_BATCH // 5)
    assert PersonEventStats.objects.get(type="view").count == THREADS * PER_BATCH * 4 // 5
    assert rebuild_all_stats(dry_run=True)[1] == 0


def test_parallel_replays_of_one_batch_store_it_once(miniprogram, actor):
    events = [
        {
            "event_id": f"same-{number}",
            "appid": miniprogram.appid,
            "openid": f"oUser{number % 7}",
            "type": "login",
            "occurred_at": iso_ago(hours=1),
        }
        for number in range(100)
    ]
    results = run_in_threads(8, lambda _: ingest_events(events=events, actor=actor))
    assert sum(result.accepted for result in results) == 100
    assert sum(result.duplicates for result in results) == 700
    assert Person.objects.count() == 7
    assert sum(PersonStats.objects.values_list("event_count", flat=True)) == 100
