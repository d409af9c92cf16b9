"""The daily activity rollup: incremental upserts equal a rebuild, through merges, undos,
erasures, pending events and pruning; the local day; the command, the check and the admin."""

import contextlib
import itertools
import random
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from identity.exceptions import MergeConflict, UndoConflict
from identity.integrity import run_checks
from identity.models import AppKind, Identity
from identity.services.erase import erase_person, erase_person_apps
from identity.services.merge import merge_persons
from identity.services.undo import undo_merge
from profiles.models import DailyActivity, Event, PendingEvents
from profiles.services.activity import (
    activity_drift,
    apply_activity,
    rebuild_activity,
    repair_activity,
)
from profiles.services.event_parsing import ParsedEvent
from profiles.services.event_store import insert_events
from profiles.services.prune import prune_events
from tests.factories import SYSTEM, PersonFactory

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
TYPES = ["register", "login", "view", "pay", "share", "coupon_claim"]
START = datetime(2026, 3, 1, tzinfo=UTC)
_ids = itertools.count(1)


@pytest.fixture(autouse=True)
def _shanghai(settings):
    settings.ANALYTICS_TIME_ZONE = "Asia/Shanghai"


def store(*events, apply=True):
    """Insert events, each (identity or person, occurred_at, type, amount); apply them as the
    pipeline would unless told not to. Returns the stored events."""
    parsed, subjects = [], {}
    for index, (subject, at, type_, amount) in enumerate(events):
        if isinstance(subject, Identity):
            subject.refresh_from_db()
            app, subjects[index] = subject.app, (subject.person_id, subject.pk)
        else:
            app, subjects[index] = None, (subject.pk, None)
        parsed.append(
            ParsedEvent(
                index=index,
                event_id=f"act-{next(_ids)}",
                type=type_,
                occurred_at=at,
                app=app,
                openid=None,
                person_public_id=None,
                amount=None if amount is None else Decimal(amount),
                channel="",
                properties={},
            )
        )
    stored = insert_events(parsed, subjects)
    if apply:
        apply_activity(stored)
    return stored


def snapshot():
    return list(
        DailyActivity.objects.order_by(
            "person_id", "day", "type_id", "app_id", "origin_person_id", "identity_id"
        ).values_list(
            "person_id",
            "day",
            "type_id",
            "app_id",
            "origin_person_id",
            "identity_id",
            "count",
            "amount_total",
        )
    )


def expected_from_events():
    """The rollup computed in Python from every stored event, local days by zoneinfo."""
    totals = defaultdict(lambda: [0, Decimal("0")])
    for event in Event.objects.all():
        key = (
            event.person_id,
            event.occurred_at.astimezone(SHANGHAI).date(),
            event.type_id,
            event.app_id,
            event.origin_person_id,
            event.identity_id,
        )
        totals[key][0] += 1
        totals[key][1] += event.amount or 0
    none_last = lambda value: (value is None, value or 0)  # noqa: E731 - SQL's NULLS LAST
    order = lambda key: (*key[:3], none_last(key[3]), key[4], none_last(key[5]))  # noqa: E731
    return [(*key, *totals[key]) for key in sorted(totals, key=order)]


def identity_of(person, app):
    return Identity.objects.get(person=person, app=app)


def test_incremental_rows_equal_a_rebuild_after_a_random_stream_with_merges(make_app):
    rng = random.Random(20261201)
    apps = [
        make_app("wx00000000000000b1"),
        make_app("wx00000000000000b2", AppKind.H5),
        make_app("wx00000000000000b3"),
    ]
    identities = []
    for number in range(12):
        app = apps[number % 3]
        identities.append(identity_of(PersonFactory(openids={app: f"oAct{number}"}), app))
    records = []
    for _ in range(40):
        batch = []
        for _event in range(rng.randrange(1, 15)):
            identity = rng.choice(identities)
            # Around the local midnight (16:00 UTC) half the time, over ten days.
            minutes = rng.choice([rng.randrange(-90, 90), rng.randrange(0, 24 * 60)])
            at = START + timedelta(days=rng.randrange(10), hours=16, minutes=minutes)
            amount = f"{rng.randrange(0, 9000) / 100:.2f}" if rng.random() < 0.4 else None
            if rng.random() < 0.15:  # no openid: a person named by public id, no app
                identity.refresh_from_db()
                subject = identity.person
            else:
                subject = identity
            batch.append((subject, at, rng.choice(TYPES), amount))
        stored = store(*batch, apply=False)
        rng.shuffle(stored)
        cut = rng.randrange(len(stored) + 1)
        apply_activity(stored[:cut])
        apply_activity(stored[cut:])
        roll = rng.random()
        if roll < 0.2:
            first, second = rng.sample(identities, 2)
            first.refresh_from_db()
            second.refresh_from_db()
            if first.person_id != second.person_id:
                with contextlib.suppress(MergeConflict):
                    records.append(
                        merge_persons(
                            first=first.person, second=second.person, reason="manual", actor=SYSTEM
                        )
                    )
        elif roll < 0.3 and records:
            with contextlib.suppress(UndoConflict):  # a later merge may stand in the way
                undo_merge(record=records.pop(rng.randrange(len(records))), actor=SYSTEM)

    incremental = snapshot()
    assert activity_drift() == []
    assert incremental == expected_from_events()
    assert sum(row[6] for row in incremental) == Event.objects.count() > 200

    DailyActivity.objects.all().delete()
    assert rebuild_activity() == len({(row[0], row[1]) for row in incremental})
    assert snapshot() == incremental
    assert rebuild_activity() == 0


def test_an_event_at_16_30_utc_counts_for_the_next_local_day(miniprogram, settings):
    person = PersonFactory(openids={miniprogram: "oDay"})
    openid = identity_of(person, miniprogram)
    store(
        (openid, datetime(2026, 3, 1, 15, 59, tzinfo=UTC), "view", None),
        (openid, datetime(2026, 3, 1, 16, 30, tzinfo=UTC), "view", None),
        (openid, datetime(2026, 3, 2, 15, 0, tzinfo=UTC), "view", None),
    )

    days = Counter()
    for day, count in DailyActivity.objects.values_list("day", "count"):
        days[day] += count
    assert days == {date(2026, 3, 1): 1, date(2026, 3, 2): 2}
    rebuilt_before = snapshot()
    DailyActivity.objects.all().delete()
    rebuild_activity()
    assert snapshot() == rebuilt_before

    # Another zone moves the boundary: a rebuild finds every day changed.
    settings.ANALYTICS_TIME_ZONE = "UTC"
    assert {day for _, day in activity_drift()} == {date(2026, 3, 1), date(2026, 3, 2)}
    rebuild_activity()
    assert dict(DailyActivity.objects.values_list("day", "count")) == {
        date(2026, 3, 1): 2,
        date(2026, 3, 2): 1,
    }


def test_merge_moves_rows_and_undo_moves_them_back(miniprogram, h5):
    older = PersonFactory(openids={miniprogram: "oOlder"})
    younger = PersonFactory(openids={h5: "oYounger"})
    older_openid, younger_openid = identity_of(older, miniprogram), identity_of(younger, h5)
    day = START + timedelta(hours=2)
    store(
        (older_openid, day, "view", None),
        (younger_openid, day, "view", None),
        (younger_openid, day, "pay", "5.00"),
        (younger, day, "login", None),  # no openid: returned by its origin
    )
    record = merge_persons(first=older, second=younger, reason="manual", actor=SYSTEM)

    assert not DailyActivity.objects.filter(person=younger).exists()
    assert DailyActivity.objects.filter(person=older).count() == 4
    assert activity_drift() == []
    # After the merge, the loser's openid brings events to the survivor; undo returns them.
    store((younger_openid, day, "view", None), (older_openid, day, "view", None))
    assert DailyActivity.objects.get(person=older, identity_id=older_openid.pk).count == 2

    undo_merge(record=record, actor=SYSTEM)

    assert list(
        DailyActivity.objects.filter(person=older).values_list("type", "identity_id", "count")
    ) == [("view", older_openid.pk, 2)]
    # The younger gets its own rows back, the post-merge event (first attributed to the
    # survivor) with them, by its openid.
    assert sorted(
        DailyActivity.objects.filter(person=younger).values_list(
            "type", "origin_person_id", "count"
        )
    ) == [
        ("login", younger.pk, 1),
        ("pay", younger.pk, 1),
        ("view", older.pk, 1),
        ("view", younger.pk, 1),
    ]
    assert activity_drift() == []
    assert snapshot() == expected_from_events()


def test_erasure_keeps_rows_and_folds_their_openids_into_existing_rows(miniprogram):
    person = PersonFactory(openids={miniprogram: "oErased"})
    openid = identity_of(person, miniprogram)
    # One event through the openid and one without it: two rows of one day and type ...
    store((openid, START, "view", "1.00"))
    stored = store((person, START, "view", "2.00"))
    Event.objects.filter(pk=stored[0].id).update(app=miniprogram)
    DailyActivity.objects.filter(identity_id__isnull=True).update(app=miniprogram)
    assert DailyActivity.objects.count() == 2

    erase_person(person=person, actor=SYSTEM)

    # ... that become one once the openid is gone, as the events' openid is set to NULL.
    assert snapshot() == [
        (person.pk, date(2026, 3, 1), "view", miniprogram.pk, person.pk, None, 2, Decimal("3"))
    ]
    assert activity_drift() == []


def test_erasure_by_app_deletes_only_that_apps_rows(miniprogram, h5):
    person = PersonFactory(openids={miniprogram: "oKeep", h5: "oGone"})
    kept, gone = identity_of(person, miniprogram), identity_of(person, h5)
    store((kept, START, "view", None), (gone, START, "view", None), (gone, START, "pay", "9.00"))

    erase_person_apps(person=person, app_ids=[h5.pk], actor=SYSTEM)

    assert [(row[3], row[5], row[6]) for row in snapshot()] == [(miniprogram.pk, kept.pk, 1)]
    assert activity_drift() == []


def test_a_rebuild_leaves_pending_events_to_the_worker(miniprogram):
    openid = identity_of(PersonFactory(openids={miniprogram: "oPending"}), miniprogram)
    store((openid, START, "view", None))
    pending = store((openid, START, "view", None), (openid, START, "pay", "4.00"), apply=False)
    row = PendingEvents.objects.create(
        event_ids=[event.id for event in pending],
        occurred_at=[event.occurred_at for event in pending],
        event_count=len(pending),
        actor_type="system",
        actor_label="tests",
        source="events",
    )
    applied = snapshot()

    assert activity_drift() == []
    DailyActivity.objects.all().delete()
    rebuild_activity()
    assert snapshot() == applied

    # The worker applies them later: then they count, once.
    apply_activity(pending)
    row.delete()
    assert activity_drift() == []
    assert [(row[2], row[6]) for row in snapshot()] == [("pay", 1), ("view", 2)]


def test_pruned_days_keep_their_rows_and_are_left_out_of_rebuilds(miniprogram):
    openid = identity_of(PersonFactory(openids={miniprogram: "oPruned"}), miniprogram)
    # Local 1 February straddles the UTC month boundary: its morning is in January's partition.
    store(
        (openid, datetime(2026, 1, 10, tzinfo=UTC), "view", None),
        (openid, datetime(2026, 1, 31, 22, tzinfo=UTC), "view", None),
        (openid, datetime(2026, 2, 1, 2, tzinfo=UTC), "view", None),
        (openid, datetime(2026, 3, 10, tzinfo=UTC), "view", None),
    )
    with connection.cursor() as cursor:
        # The test's one transaction still holds the inserts' deferred foreign-key checks,
        # which forbid dropping their partition; production prunes in a later transaction.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")

    run = prune_events(cutoff=datetime(2026, 2, 1, tzinfo=UTC))

    assert run.events_deleted == 2
    # 10 January is gone from the events, 1 February half gone: both are history now.
    assert activity_drift() == []
    assert rebuild_activity() == 0
    DailyActivity.objects.update(count=5)
    assert activity_drift() == [(openid.person_id, date(2026, 3, 10))]
    assert rebuild_activity() == 1
    assert dict(DailyActivity.objects.values_list("day", "count")) == {
        date(2026, 1, 10): 5,
        date(2026, 2, 1): 5,
        date(2026, 3, 10): 1,
    }


def test_repair_rebuilds_only_the_recent_days(miniprogram):
    openid = identity_of(PersonFactory(openids={miniprogram: "oRepair"}), miniprogram)
    now = timezone.now()
    store((openid, now - timedelta(minutes=5), "view", None))
    store((openid, now - timedelta(days=5), "view", None))
    DailyActivity.objects.update(count=7)

    assert repair_activity(days=2) == 1

    old_day = (now - timedelta(days=5)).astimezone(SHANGHAI).date()
    assert activity_drift() == [(openid.person_id, old_day)]
    assert repair_activity() == 0


def test_rebuild_activity_command_checks_and_repairs(miniprogram):
    person = PersonFactory(openids={miniprogram: "oCommand"})
    store((identity_of(person, miniprogram), START, "pay", "5.00"))
    call_command("rebuild_activity", "--check", stdout=StringIO())
    assert run_checks()["activity_equal_rebuild"] == 0

    DailyActivity.objects.update(amount_total=Decimal("99"))
    assert run_checks()["activity_equal_rebuild"] == 1
    with pytest.raises(CommandError, match="drift"):
        call_command("rebuild_activity", "--check", stdout=StringIO())
    call_command("rebuild_activity", "--check", "--since", "2026-03-02", stdout=StringIO())
    out = StringIO()
    call_command("rebuild_activity", "--person", person.public_id, stdout=out)

    assert "1 person-days differed and were rewritten" in out.getvalue()
    assert DailyActivity.objects.get().amount_total == Decimal("5.00")
    call_command("rebuild_activity", "--check", stdout=StringIO())
    with pytest.raises(CommandError, match="public id"):
        call_command("rebuild_activity", "--person", "nobody", stdout=StringIO())


def test_admin_lists_and_shows_rows_read_only(admin_client, miniprogram):
    store(
        (
            identity_of(PersonFactory(openids={miniprogram: "oAdmin"}), miniprogram),
            START,
            "pay",
            "5.00",
        )
    )
    row = DailyActivity.objects.get()

    listing = admin_client.get(reverse("admin:profiles_dailyactivity_changelist"))
    detail = admin_client.get(reverse("admin:profiles_dailyactivity_change", args=[row.pk]))

    assert listing.status_code == 200
    assert b"2026" in listing.content
    assert detail.status_code == 200
    assert admin_client.get(reverse("admin:profiles_dailyactivity_add")).status_code == 403
