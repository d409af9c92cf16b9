"""A key restricted to apps sees stats only from its apps' events (DESIGN.md, REST API v1).

The person has activity in app A (the mini-program) and app B (the H5 pages); a key restricted
to A must see A's numbers only, before and after the events are pruned into rollups, on every
path that shows a person (one person, batch lookups, segment members).
"""

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from config.api.scopes import IDENTITY_READ, SEGMENTS_READ
from identity.api.representation import person_representation
from identity.selectors import get_person
from identity.services.merge import merge_persons
from identity.services.resolve import resolve_identity
from identity.services.undo import undo_merge
from profiles.models import Event, EventRollup, Segment
from profiles.services.definitions import save_segment
from profiles.services.ingest import ingest_events
from profiles.services.partitions import month_of, partition_of
from profiles.services.prune import prune_events
from profiles.services.stats_rebuild import rebuild_all_stats
from profiles.services.tags import assign_tags

pytestmark = pytest.mark.django_db


def months_back(count: int) -> datetime:
    """The first instant of the month `count` months before this one."""
    month = month_of(timezone.now())
    for _ in range(count):
        month = month_of(month - timedelta(days=1))
    return month


@pytest.fixture
def times():
    """Days of last month: a prune up to now folds them (it prunes whole months only)."""
    start = months_back(1)
    return {
        "b_pay": start + timedelta(days=5),  # B's, with a channel: the person's first channel
        "a_pay": start + timedelta(days=6),
        "a_view": start + timedelta(days=7),  # A's only channel
        "b_login": start + timedelta(days=8),
    }


def report(app, openid, event_id, event_type, at, **fields) -> dict:
    return {
        "appid": app.appid,
        "openid": openid,
        "event_id": event_id,
        "type": event_type,
        "occurred_at": at.isoformat(),
        **fields,
    }


@pytest.fixture
def shared(miniprogram, h5, actor, times):
    """A person with an openid in A and in B (one unionid) and events in both apps.

    Resolved with seen=False (a resolve marks its person seen now): the person is seen only by
    the events of last month, whose times the assertions compare."""
    person = resolve_identity(
        app=miniprogram, openid="oA1", unionid="oUShared", actor=actor, seen=False
    )
    resolve_identity(app=h5, openid="oB1", unionid="oUShared", actor=actor, seen=False)
    result = ingest_events(
        events=[
            report(miniprogram, "oA1", "a-1", "pay", times["a_pay"], amount="10.00"),
            report(miniprogram, "oA1", "a-2", "view", times["a_view"], channel="qr_store"),
            report(h5, "oB1", "b-1", "pay", times["b_pay"], amount="99.00", channel="douyin"),
            report(h5, "oB1", "b-2", "login", times["b_login"]),
        ],
        actor=actor,
    )
    assert result.accepted == 4, result.errors
    return person.person


@pytest.fixture
def restricted(make_client, miniprogram):
    """A client whose key holds only app A."""
    return make_client(scopes=[IDENTITY_READ, SEGMENTS_READ], apps=[miniprogram.appid])


def at(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def assert_only_app_a(stats: dict, times: dict) -> None:
    assert stats["pay_total"] == "10.00"
    assert stats["pay_count"] == 1
    assert stats["event_count"] == 2
    assert stats["last_login_at"] is None  # the login was in B
    assert stats["first_channel"] == "qr_store"  # B's earlier "douyin" stays hidden
    assert at(stats["first_seen_at"]) == times["a_pay"]
    assert at(stats["last_seen_at"]) == times["a_view"]
    assert at(stats["last_pay_at"]) == times["a_pay"]
    assert set(stats["events"]) == {"pay", "view"}
    assert stats["events"]["pay"]["count"] == 1
    assert at(stats["events"]["pay"]["last_at"]) == times["a_pay"]
    assert stats["events"]["view"]["count"] == 1


def assert_both_apps(stats: dict, times: dict) -> None:
    assert stats["pay_total"] == "109.00"
    assert stats["pay_count"] == 2
    assert stats["event_count"] == 4
    assert at(stats["last_login_at"]) == times["b_login"]
    assert stats["first_channel"] == "douyin"
    assert at(stats["first_seen_at"]) == times["b_pay"]
    assert at(stats["last_seen_at"]) == times["b_login"]
    assert set(stats["events"]) == {"pay", "view", "login"}
    assert stats["events"]["pay"]["count"] == 2


def test_a_restricted_key_sees_only_its_apps_stats(api, restricted, shared, times):
    mine = restricted.get(f"/api/v1/persons/{shared.public_id}")
    everything = api.get(f"/api/v1/persons/{shared.public_id}")

    assert mine.status_code == everything.status_code == 200
    assert_only_app_a(mine.json()["stats"], times)
    assert_both_apps(everything.json()["stats"], times)


def test_pruned_events_still_count_only_for_their_apps(api, restricted, shared, times):
    before = restricted.get(f"/api/v1/persons/{shared.public_id}").json()["stats"]
    before_all = api.get(f"/api/v1/persons/{shared.public_id}").json()["stats"]

    run = prune_events(cutoff=timezone.now())

    assert run.events_deleted == 4
    assert not Event.objects.exists()
    after = restricted.get(f"/api/v1/persons/{shared.public_id}").json()["stats"]
    assert after == before
    assert_only_app_a(after, times)
    assert api.get(f"/api/v1/persons/{shared.public_id}").json()["stats"] == before_all


def test_pruning_keeps_one_rollup_per_app(shared, miniprogram, h5, actor, times):
    """App-less events (reported by person_id) fold into one rollup across runs."""
    for number, months in enumerate((3, 2)):
        at = months_back(months) + timedelta(days=10)
        ingest_events(
            events=[
                {
                    "person_id": shared.public_id,
                    "event_id": f"no-app-{number}",
                    "type": "view",
                    "occurred_at": at.isoformat(),
                }
            ],
            actor=actor,
        )
        prune_events(cutoff=partition_of(at).end)  # that month only
    prune_events(cutoff=timezone.now())

    rollups = EventRollup.objects.filter(person=shared)
    assert list(rollups.values_list("type", "app_id", "count").order_by("type", "app_id")) == [
        ("login", h5.pk, 1),
        ("pay", miniprogram.pk, 1),
        ("pay", h5.pk, 1),
        ("view", miniprogram.pk, 1),
        ("view", None, 2),
    ]
    assert rebuild_all_stats(dry_run=True)[1] == 0


def test_merge_and_undo_carry_app_rollups(restricted, miniprogram, h5, actor, times):
    """Rollups moved by a merge count for the survivor in their own app, and go back on undo."""
    survivor = resolve_identity(app=h5, openid="oB2", actor=actor).person
    loser = resolve_identity(app=miniprogram, openid="oA2", actor=actor).person
    ingest_events(
        events=[
            report(h5, "oB2", "b-3", "pay", times["b_pay"], amount="99.00", channel="douyin"),
            report(miniprogram, "oA2", "a-3", "pay", times["a_pay"], amount="5.00"),
        ],
        actor=actor,
    )
    prune_events(cutoff=timezone.now())

    record = merge_persons(first=survivor, second=loser, reason="manual", actor=actor)
    merged = restricted.get(f"/api/v1/persons/{survivor.public_id}").json()["stats"]
    assert (merged["pay_total"], merged["pay_count"], merged["first_channel"]) == ("5.00", 1, "")

    undo_merge(record=record, actor=actor)
    assert restricted.get(f"/api/v1/persons/{survivor.public_id}").status_code == 404
    back = restricted.get(f"/api/v1/persons/{loser.public_id}").json()["stats"]
    assert (back["pay_total"], back["pay_count"]) == ("5.00", 1)
    assert rebuild_all_stats(dry_run=True)[1] == 0


def test_a_restricted_person_read_is_one_query(
    restricted, shared, times, django_assert_num_queries
):
    path = f"/api/v1/persons/{shared.public_id}"
    restricted.get(path)  # the key's last_used_at is now fresh
    # the key, then the person with identities, unionids, restricted stats and tags
    with django_assert_num_queries(2):
        response = restricted.get(path)
    assert_only_app_a(response.json()["stats"], times)


def test_batch_lookup_by_a_restricted_key_shows_restricted_stats(
    restricted, shared, miniprogram, actor, times, django_assert_num_queries
):
    resolve_identity(app=miniprogram, openid="oA2", actor=actor)
    restricted.get(f"/api/v1/persons/{shared.public_id}")  # warm the key
    # the key, the app, and every person with its restricted stats in one query
    with django_assert_num_queries(3):
        response = restricted.post(
            "/api/v1/persons/lookup",
            {"appid": miniprogram.appid, "openids": ["oA1", "oA2"]},
            format="json",
        )
    first, second = response.json()["results"]
    assert_only_app_a(first["person"]["stats"], times)
    assert second["person"]["stats"]["event_count"] == 0
    assert second["person"]["stats"]["events"] == {}

    by_unionid = restricted.post(
        "/api/v1/persons/lookup", {"unionids": ["oUShared"]}, format="json"
    )
    assert_only_app_a(by_unionid.json()["results"][0]["person"]["stats"], times)


def test_segment_members_show_restricted_stats(restricted, shared, actor, times):
    assign_tags(person=shared, keys=["vip"], actor=actor)
    save_segment(segment=Segment(key="vips", name="VIPs", condition={"tag": "vip"}), actor=actor)

    [member] = restricted.get("/api/v1/segments/vips/members").json()["results"]

    assert_only_app_a(member["stats"], times)


def test_a_person_read_for_another_restriction_is_refused(shared, miniprogram):
    """Showing stats computed for all apps to a restricted caller would leak B's activity."""
    unrestricted = get_person(shared.public_id)

    with pytest.raises(ValueError, match="restriction"):
        person_representation(unrestricted, show_phone=False, allowed_app_ids={miniprogram.pk})
    body = person_representation(
        get_person(shared.public_id, allowed_app_ids={miniprogram.pk}),
        show_phone=False,
        allowed_app_ids={miniprogram.pk},
    )
    assert body["stats"]["pay_total"] == "10.00"


def test_events_without_an_app_are_neither_listed_nor_counted_for_a_restricted_key(
    shared, restricted, api, actor, times
):
    """An event reported by person id came through no app of the key's: its list and its
    stats agree in leaving it out."""
    result = ingest_events(
        events=[
            {
                "person_id": shared.public_id,
                "event_id": "site-1",
                "type": "pay",
                "amount": "500.00",
                "occurred_at": times["a_view"].isoformat(),
            }
        ],
        actor=actor,
    )
    assert result.accepted == 1, result.errors

    listed = restricted.get(f"/api/v1/persons/{shared.public_id}/events").json()
    stats = restricted.get(f"/api/v1/persons/{shared.public_id}").json()["stats"]
    everything = api.get(f"/api/v1/persons/{shared.public_id}/events").json()

    assert "site-1" not in {event["event_id"] for event in listed["results"]}
    assert stats["pay_total"] == "10.00"
    assert "site-1" in {event["event_id"] for event in everything["results"]}
