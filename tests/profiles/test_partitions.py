"""Events partitioned by month: where rows land, months made ahead or on demand, the key ledger,
and retention by whole partitions (services/partitions.py, event_store.py, prune.py)."""

import threading
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse
from django.utils import timezone

from identity.integrity import run_checks
from profiles.models import Event, EventRollup, PendingEvents, PersonEventStats
from profiles.models.events import EventKey
from profiles.services import partitions, prune
from profiles.services.ingest import ingest_events
from profiles.services.partitions import (
    ensure_partitions,
    event_partitions,
    month_of,
    next_month,
    partition_of,
)
from profiles.services.pipeline import apply_pending_events
from profiles.services.prune import BUSY, DROPPED, PENDING, prune_events
from profiles.services.stats_rebuild import rebuild_all_stats
from tests.identity.test_concurrency import run_in_threads

pytestmark = pytest.mark.django_db

OLD_MONTH = datetime(2003, 5, 1, tzinfo=UTC)  # after event_contract.OLDEST, never made ahead


def months_back(count: int) -> datetime:
    month = month_of(timezone.now())
    for _ in range(count):
        month = month_of(month - timedelta(days=1))
    return month


def at_iso(moment: datetime) -> str:
    return moment.isoformat()


def partition_holding(event_id: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tableoid::regclass::text FROM profiles_event WHERE event_id = %s", [event_id]
        )
        return cursor.fetchone()[0]


def table_exists(name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [name])
        return cursor.fetchone()[0]


def names() -> set[str]:
    return {partition.name for partition in event_partitions()}


# Where events land


def test_events_land_in_their_months_partition(event, actor):
    earlier, later = months_back(2), months_back(1)
    result = ingest_events(
        events=[
            event(event_id="early", occurred_at=at_iso(earlier + timedelta(days=3))),
            event(event_id="late", occurred_at=at_iso(later - timedelta(hours=1))),
            event(event_id="now"),
        ],
        actor=actor,
    )

    assert result.accepted == 3
    assert partition_holding("early") == partition_of(earlier).name
    assert partition_holding("late") == partition_of(earlier).name  # its last hour (UTC)
    assert partition_holding("now") == partition_of(timezone.now() - timedelta(hours=1)).name


def test_an_event_of_a_month_without_partition_is_accepted_and_creates_it(api, event):
    name = partition_of(OLD_MONTH).name
    assert name not in names()

    response = api.post(
        "/api/v1/events",
        {"events": [event(event_id="history-1", occurred_at="2003-05-20T10:00:00+08:00")]},
        format="json",
    )

    assert response.status_code == 200
    assert response.json()["accepted"] == 1
    assert name in names()
    assert partition_holding("history-1") == name
    # The attached partition carries the parent's primary key, indexes and foreign keys.
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_indexes WHERE tablename = %s", [name])
        assert cursor.fetchone()[0] == 4
        cursor.execute(
            "SELECT count(*) FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'f'",
            [name],
        )
        assert cursor.fetchone()[0] == 4


def test_an_event_of_a_month_dropped_elsewhere_is_accepted(event, actor, monkeypatch):
    """A process that remembers a month another process pruned recreates it on the retry."""
    monkeypatch.setattr(partitions, "_known", {OLD_MONTH})
    assert partition_of(OLD_MONTH).name not in names()

    result = ingest_events(events=[event(occurred_at="2003-05-20T10:00:00Z")], actor=actor)

    assert result.accepted == 1
    assert partition_of(OLD_MONTH).name in names()


def test_ensure_partitions_creates_the_months_ahead_and_is_idempotent():
    month, wanted = month_of(timezone.now()), []
    for _ in range(6):
        wanted.append(partition_of(month).name)
        month = next_month(month)
    before = names()

    created = ensure_partitions(months_ahead=5)

    assert created == [name for name in wanted if name not in before]
    assert set(wanted) <= names()
    assert ensure_partitions(months_ahead=5) == []


def test_ensure_event_partitions_command_reports_what_it_created():
    out = StringIO()
    call_command("ensure_event_partitions", "--months-ahead", "7", stdout=out)
    assert partition_of(_months_ahead(7)).name in names()
    assert "partitions created." in out.getvalue()

    again = StringIO()
    call_command("ensure_event_partitions", "--months-ahead", "7", stdout=again)
    assert "0 partitions created." in again.getvalue()


def _months_ahead(count: int) -> datetime:
    month = month_of(timezone.now())
    for _ in range(count):
        month = next_month(month)
    return month


# The key ledger


def test_the_same_event_id_in_another_month_is_a_duplicate(event, actor, h5, miniprogram):
    first = ingest_events(
        events=[event(event_id="k-1", occurred_at=at_iso(months_back(2)))], actor=actor
    )
    replay = ingest_events(events=[event(event_id="k-1")], actor=actor)  # this month
    other_app = ingest_events(
        events=[event(event_id="k-1", appid=h5.appid, openid="oH5")], actor=actor
    )

    assert (first.accepted, replay.accepted, replay.duplicates) == (1, 0, 1)
    assert other_app.accepted == 1  # each app has its own namespace
    assert Event.objects.filter(event_id="k-1").count() == 2
    key = EventKey.objects.get(app=miniprogram, event_id="k-1")
    assert key.pk == Event.objects.get(event_id="k-1", app=miniprogram).pk


def test_events_without_an_app_share_one_namespace_across_months(event, actor, miniprogram):
    person = ingest_events(events=[event()], actor=actor)
    public_id = Event.objects.get().person.public_id
    assert person.accepted == 1
    by_person = {"person_id": public_id, "event_id": "site-1", "type": "view"}

    first = ingest_events(
        events=[{**by_person, "occurred_at": at_iso(months_back(3))}], actor=actor
    )
    again = ingest_events(
        events=[{**by_person, "occurred_at": at_iso(months_back(1))}], actor=actor
    )

    assert (first.accepted, again.duplicates) == (1, 1)
    assert EventKey.objects.filter(app=None, event_id="site-1").count() == 1


def test_the_graph_check_finds_an_event_without_its_key(event, actor):
    ingest_events(events=[event(), event()], actor=actor)
    assert run_checks()["events_have_keys"] == 0

    EventKey.objects.filter(pk=Event.objects.order_by("pk").first().pk).delete()

    assert run_checks()["events_have_keys"] == 1


# Pruning whole months


@pytest.fixture
def three_months(event, actor):
    """Events with channels and amounts in each of the three months before this one."""
    batch = []
    for months in (3, 2, 1):
        start = months_back(months)
        for day, (kind, channel) in enumerate(
            [("view", ""), ("pay", "qr_store"), ("login", "douyin"), ("pay", "")]
        ):
            fields = {"amount": f"{10 + day}.50"} if kind == "pay" else {}
            batch.append(
                event(
                    event_id=f"m{months}-{day}",
                    type=kind,
                    channel=channel,
                    occurred_at=at_iso(start + timedelta(days=day + 1)),
                    **fields,
                )
            )
    assert ingest_events(events=batch, actor=actor).accepted == 12
    return batch


def stats_snapshot():
    return list(
        PersonEventStats.objects.order_by("person_id", "type").values(
            "person_id", "type", "count", "amount_total", "first_at", "last_at"
        )
    )


def test_prune_drops_exactly_the_months_that_ended_before_the_cutoff(three_months, actor):
    call_command("rebuild_stats", "--check", stdout=StringIO())
    before = stats_snapshot()
    oldest, middle, last = (partition_of(months_back(n)) for n in (3, 2, 1))

    run = prune_events(cutoff=middle.end)

    assert [(o.name, o.status, o.events) for o in run.outcomes][-2:] == [
        (oldest.name, DROPPED, 4),
        (middle.name, DROPPED, 4),
    ]
    assert run.events_deleted == 8
    assert not any(partition.end <= middle.end for partition in event_partitions())
    assert not table_exists(oldest.name)
    assert not table_exists(middle.name)
    assert last.name in names()
    assert set(Event.objects.values_list("event_id", flat=True)) == {f"m1-{d}" for d in range(4)}
    # Folded: one rollup per type of the person, holding both months.
    rollups = {r.type_id: r for r in EventRollup.objects.all()}
    assert {kind: r.count for kind, r in rollups.items()} == {"view": 2, "pay": 4, "login": 2}
    assert rollups["pay"].amount_total == 2 * (11.5 + 13.5)
    assert stats_snapshot() == before
    assert rebuild_all_stats(dry_run=True)[1] == 0
    call_command("rebuild_stats", "--check", stdout=StringIO())


def test_a_pruned_event_replayed_stays_a_duplicate(three_months, actor):
    prune_events(cutoff=timezone.now())

    replay = ingest_events(events=three_months, actor=actor)

    assert (replay.accepted, replay.duplicates) == (0, 12)
    assert not Event.objects.filter(event_id__startswith="m").exists()


def test_prune_skips_a_month_with_pending_events(event, actor, settings):
    month = partition_of(months_back(2))
    settings.JOBS_RUN_INLINE = False  # no worker: the ingest's events stay pending
    ingest_events(events=[event(occurred_at=at_iso(month.start + timedelta(days=2)))], actor=actor)
    assert PendingEvents.objects.exists()

    run = prune_events(cutoff=timezone.now())

    assert (month.name, PENDING, 0) in [(o.name, o.status, o.events) for o in run.outcomes]
    assert month.name in names()
    assert Event.objects.count() == 1
    assert not EventRollup.objects.exists()

    apply_pending_events()
    again = prune_events(cutoff=timezone.now())

    assert (month.name, DROPPED, 1) in [(o.name, o.status, o.events) for o in again.outcomes]
    assert not Event.objects.exists()
    assert EventRollup.objects.get().count == 1
    assert rebuild_all_stats(dry_run=True)[1] == 0


# lock_timeout is one of PostgreSQL's timers: under libfaketime it never fires.
@pytest.mark.pg_timers
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_prune_skips_a_month_it_cannot_lock_in_time(event, actor, monkeypatch):
    """A writer holding the month (a merge moving events) makes the prune give up, not wait."""
    month = partition_of(months_back(2))
    ingest_events(events=[event(occurred_at=at_iso(month.start + timedelta(days=2)))], actor=actor)
    monkeypatch.setattr(prune, "LOCK_TIMEOUT", "100ms")
    held, release = threading.Event(), threading.Event()

    def writer():
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(f"LOCK TABLE {month.name} IN ROW EXCLUSIVE MODE")
                held.set()
                release.wait(30)
        finally:
            connection.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert held.wait(30)
        run = prune_events(cutoff=month.end)
    finally:
        release.set()
        thread.join()

    assert [(o.name, o.status) for o in run.outcomes if o.name == month.name] == [
        (month.name, BUSY)
    ]
    assert month.name in names()
    assert Event.objects.count() == 1
    assert not EventRollup.objects.exists()

    again = prune_events(cutoff=month.end)
    assert (month.name, DROPPED, 1) in [(o.name, o.status, o.events) for o in again.outcomes]
    assert rebuild_all_stats(dry_run=True)[1] == 0


def test_prune_events_command_reports_each_partition(three_months):
    out = StringIO()
    call_command("prune_events", "--older-than-days", "1", stdout=out)

    text = out.getvalue()
    for months in (3, 2):
        assert f"{partition_of(months_back(months)).name}: 4 events folded, dropped" in text
    assert "Pruned" in text


def test_makemigrations_finds_the_state_in_step_with_the_models():
    out = StringIO()
    call_command("makemigrations", "--check", "--dry-run", stdout=out)
    assert "No changes detected" in out.getvalue()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_migration_moves_existing_events_into_partitions_and_their_keys_to_the_ledger(
    event, actor, miniprogram
):
    """Migration 0013 run over a plain event table holding rows of two months."""
    executor = MigrationExecutor(connection)
    executor.migrate([("profiles", "0012_pending_events")])
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO identity_person (public_id, created_at, updated_at) "
                "VALUES ('p_migrated', now(), now()) RETURNING id"
            )
            person = cursor.fetchone()[0]
            cursor.execute(
                "INSERT INTO profiles_event (event_id, person_id, origin_person_id, app_id, type, "
                "occurred_at, received_at, channel, properties) VALUES "
                "('old-1', %(p)s, %(p)s, %(app)s, 'view', '2004-02-10T00:00Z', now(), '', '{}'), "
                "('old-2', %(p)s, %(p)s, %(app)s, 'view', '2004-03-31T23:00Z', now(), 'qr', '{}'),"
                "('old-1', %(p)s, %(p)s, NULL, 'login', '2004-03-01T00:00Z', now(), '', '{}')",
                {"p": person, "app": miniprogram.pk},
            )
    finally:
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())
    partitions.forget_months()

    rows = {
        (e.event_id, e.app_id): partition_holding_pk(e.pk) for e in Event.objects.order_by("pk")
    }
    assert rows == {
        ("old-1", miniprogram.pk): "profiles_event_p200402",
        ("old-2", miniprogram.pk): "profiles_event_p200403",
        ("old-1", None): "profiles_event_p200403",
    }
    assert partition_of(_months_ahead(3)).name in names()
    keys = set(EventKey.objects.values_list("id", "app_id", "event_id"))
    assert keys == set(Event.objects.values_list("id", "app_id", "event_id"))
    assert run_checks()["events_have_keys"] == 0

    replay = ingest_events(
        events=[event(event_id="old-1", openid="oNew"), event(event_id="new-1", openid="oNew")],
        actor=actor,
    )
    assert (replay.accepted, replay.duplicates) == (1, 1)
    newest = Event.objects.get(event_id="new-1")
    assert newest.pk > max(pk for pk, _, _ in keys)


def partition_holding_pk(pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT tableoid::regclass::text FROM profiles_event WHERE id = %s", [pk])
        return cursor.fetchone()[0]


def test_the_admin_event_list_filters_by_month_from_the_partitions(admin_client, event, actor):
    earlier, later = months_back(2), months_back(1)
    ingest_events(
        events=[
            event(event_id="a", occurred_at=at_iso(earlier + timedelta(days=1))),
            event(event_id="b", occurred_at=at_iso(later + timedelta(days=1))),
        ],
        actor=actor,
    )
    changelist = reverse("admin:profiles_event_changelist")

    everything = admin_client.get(changelist)
    one_month = admin_client.get(changelist, {"month": f"{earlier:%Y-%m}"})
    nonsense = admin_client.get(changelist, {"month": "2026-13"})

    def listed(response):
        assert response.status_code == 200
        return [event.event_id for event in response.context["cl"].result_list]

    assert listed(everything) == ["b", "a"]  # newest id first
    assert listed(one_month) == ["a"]
    assert listed(nonsense) == []
    assert f"?month={later:%Y-%m}" in everything.content.decode()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_parallel_ingests_of_one_new_month_create_it_once(miniprogram, actor):
    month = datetime(2005, 7, 1, tzinfo=UTC)
    partitions.forget_months()

    def batch(thread):
        events = [
            {
                "event_id": f"p{thread}-{number}",
                "appid": miniprogram.appid,
                "openid": f"oPar{thread}",
                "type": "view",
                "occurred_at": (month + timedelta(days=number, hours=thread)).isoformat(),
            }
            for number in range(20)
        ]
        return ingest_events(events=events, actor=actor)

    results = run_in_threads(8, batch)

    assert [result.errors for result in results] == [[]] * 8
    assert sum(result.accepted for result in results) == 160
    assert Event.objects.filter(occurred_at__gte=month).count() == 160
    assert partition_of(month).name in names()
    assert rebuild_all_stats(dry_run=True)[1] == 0
