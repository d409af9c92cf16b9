import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from identity.models import AppKind
from identity.services.merge import merge_persons
from identity.services.resolve import resolve_identity
from identity.services.undo import undo_merge
from profiles.models import Event, EventRollup, PersonEventStats, PersonStats
from profiles.services.ingest import ingest_events
from profiles.services.prune import prune_events
from profiles.services.seen import record_seen
from profiles.services.stats_rebuild import rebuild_all_stats

pytestmark = pytest.mark.django_db

TYPES = ["register", "login", "view", "pay", "share", "coupon_claim", "coupon_use"]
CHANNELS = ["", "", "qr_store", "sa_article", "channels_video", "douyin", "share_card"]
START = datetime(2026, 1, 1, tzinfo=UTC)


def snapshot():
    persons = list(
        PersonStats.objects.order_by("person_id").values(
            "person_id",
            "event_count",
            "first_seen_at",
            "last_seen_at",
            "first_event_at",
            "first_resolved_at",
            "last_resolved_at",
            "first_channel",
            "last_login_at",
            "pay_count",
            "pay_total",
            "last_pay_at",
        )
    )
    types = list(
        PersonEventStats.objects.order_by("person_id", "type").values(
            "person_id", "type", "count", "amount_total", "first_at", "last_at"
        )
    )
    return persons, types


def random_stream(rng, apps, count, prefix, start=START):
    """Events in random order, random times (ties included), replays and several apps."""
    events = []
    for number in range(count):
        event_type = rng.choice(TYPES)
        at = start + timedelta(minutes=rng.randrange(0, 60 * 24 * 28, 30))
        app = rng.choice(apps)
        event = {
            "event_id": f"{prefix}-{number}",
            "appid": app.appid,
            "openid": f"o{app.pk}u{rng.randrange(12)}",
            "type": event_type,
            "occurred_at": at.isoformat(),
            "channel": rng.choice(CHANNELS),
        }
        if event_type == "pay" or rng.random() < 0.1:
            event["amount"] = f"{rng.randrange(0, 50000) / 100:.2f}"
        events.append(event)
    events += rng.sample(events, count // 10)  # replays
    rng.shuffle(events)
    return events


def test_incremental_stats_equal_a_rebuild_after_a_random_stream(make_app, actor):
    rng = random.Random(20261123)
    apps = [make_app("wx00000000000000a1"), make_app("wx00000000000000a2", AppKind.H5)]
    stream = random_stream(rng, apps, 600, "r")
    for start in range(0, len(stream), 37):
        ingest_events(events=stream[start : start + 37], actor=actor)

    incremental = snapshot()
    persons, differing = rebuild_all_stats()

    assert differing == 0
    assert snapshot() == incremental
    assert persons == len(incremental[0]) > 10
    assert sum(row["event_count"] for row in incremental[0]) == Event.objects.count()


def test_resolve_times_widen_seen_keep_first_event_and_survive_a_rebuild(make_app, actor):
    """Seen = events and resolves; the first event stays the events' own; a rebuild agrees."""
    rng = random.Random(20261201)
    apps = [make_app("wx00000000000000a1"), make_app("wx00000000000000a2", AppKind.H5)]
    stream = random_stream(rng, apps, 300, "s")
    sightings = []
    for start in range(0, len(stream), 37):
        ingest_events(events=stream[start : start + 37], actor=actor)
        app = rng.choice(apps)
        openid = f"o{app.pk}u{rng.randrange(14)}"  # some persons are only ever resolved
        person = resolve_identity(app=app, openid=openid, actor=actor, seen=False).person
        at = START + timedelta(days=rng.randrange(-20, 40))
        record_seen([person.pk], at)
        sightings.append((person.pk, at))

    incremental = snapshot()
    _, differing = rebuild_all_stats()

    assert differing == 0
    assert snapshot() == incremental
    events = {}
    for row in Event.objects.values("person_id", "occurred_at"):
        events.setdefault(row["person_id"], []).append(row["occurred_at"])
    resolved = {}
    for pk, at in sightings:
        resolved.setdefault(pk, []).append(at)
    for row in incremental[0]:
        mine, seen = events.get(row["person_id"], []), resolved.get(row["person_id"], [])
        assert row["first_event_at"] == (min(mine) if mine else None)
        assert row["first_seen_at"] == min(mine + seen)
        assert row["last_seen_at"] == max(mine + seen)
    assert any(row["first_event_at"] is None for row in incremental[0])  # resolved only
    assert any(
        row["first_event_at"] and row["first_seen_at"] < row["first_event_at"]
        for row in incremental[0]
    )


def test_rebuild_stats_command_checks_and_repairs(make_app, actor, event):
    ingest_events(events=[event(type="pay", amount="5.00")], actor=actor)
    call_command("rebuild_stats", "--check", stdout=StringIO())
    PersonStats.objects.update(pay_count=99)
    with pytest.raises(CommandError, match="drift"):
        call_command("rebuild_stats", "--check", stdout=StringIO())
    call_command("rebuild_stats", stdout=StringIO())
    assert PersonStats.objects.get().pay_count == 1


def test_stats_survive_pruning_and_rebuild_still_matches(make_app, actor):
    rng = random.Random(7)
    apps = [make_app("wx00000000000000a1")]
    ingest_events(events=random_stream(rng, apps, 300, "p"), actor=actor)  # January 2026
    february = random_stream(rng, apps, 100, "q", start=START + timedelta(days=31))
    ingest_events(events=february, actor=actor)
    before = snapshot()

    run = prune_events(cutoff=START + timedelta(days=40))  # January ended before, February not

    assert run.events_deleted == 300
    assert EventRollup.objects.exists()
    assert Event.objects.count() == 100
    assert snapshot() == before
    assert rebuild_all_stats()[1] == 0
    assert snapshot() == before


def test_merge_moves_events_and_stats_and_undo_moves_them_back(miniprogram, h5, actor, event):
    older = resolve_identity(app=miniprogram, openid="oA", actor=actor).person
    younger = resolve_identity(app=h5, openid="oB", actor=actor).person
    ingest_events(
        events=[
            event(openid="oA", type="pay", amount="10.00", occurred_at="2026-03-01T00:00:00Z"),
            event(
                appid=h5.appid,
                openid="oB",
                type="pay",
                amount="5.00",
                channel="douyin",
                occurred_at="2026-02-01T00:00:00Z",
            ),
            event(appid=h5.appid, openid="oB", type="login", occurred_at="2026-04-01T00:00:00Z"),
        ],
        actor=actor,
    )
    record = merge_persons(first=older, second=younger, reason="manual", actor=actor)

    merged = PersonStats.objects.get(person=older)
    assert (merged.pay_count, merged.pay_total, merged.event_count) == (2, Decimal("15.00"), 3)
    assert merged.first_channel == "douyin"
    assert not PersonStats.objects.filter(person=younger).exists()
    assert Event.objects.filter(person=older).count() == 3

    # An event through the loser's openid after the merge goes back with it on undo.
    ingest_events(events=[event(appid=h5.appid, openid="oB", type="view")], actor=actor)
    undo_merge(record=record, actor=actor)

    assert Event.objects.filter(person=older).count() == 1
    assert Event.objects.filter(person=younger).count() == 3
    older_stats = PersonStats.objects.get(person=older)
    younger_stats = PersonStats.objects.get(person=younger)
    assert (older_stats.pay_total, older_stats.first_channel) == (Decimal("10.00"), "")
    assert (younger_stats.pay_total, younger_stats.event_count) == (Decimal("5.00"), 3)
    assert rebuild_all_stats(dry_run=True)[1] == 0


def test_erasure_keeps_aggregates_but_drops_event_properties(miniprogram, actor, event):
    from identity.services.erase import erase_person

    ingest_events(events=[event(type="pay", amount="3.00", properties={"note": "x"})], actor=actor)
    person = Event.objects.get().person
    erase_person(person=person, actor=actor)
    assert Event.objects.get().properties == {}
    assert PersonStats.objects.get(person=person).pay_total == Decimal("3.00")
