"""The person cache (identity/person_cache.py): hits by every key, invalidation by every change,
restricted keys kept apart, and the database answering while Redis is down.

The tests are transactional: reads inside a transaction bypass the cache, so the default
(transaction-wrapped) tests never reach it. An answer is checked against the same request read
with the cache bypassed (inside `transaction.atomic()`: the database, as `read_through` reads
it on a miss). Each change is made after warming the cache by every key of the persons it
touches, so that an entry it failed to outdate would be served and differ.

Runs on Django's local memory cache (`make test`) and on Redis (REDIS_URL, CI's second stage).
"""

import socket
import threading
import time
from contextlib import contextmanager
from datetime import timedelta
from urllib.parse import quote

import pytest
from django.core.cache import cache, caches
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache
from django.db import transaction
from django.utils import timezone
from prometheus_client import REGISTRY
from redis.exceptions import RedisError

from config.api.scopes import ALL_SCOPES
from config.metrics import PERSON_CACHE_RESULTS
from identity import person_cache
from identity.models import AppKind, Identity, MergeReason
from identity.person_reads import read_person
from identity.services.apps import provision_app
from identity.services.follow import FollowObservation, record_follow_changes
from identity.services.merge import merge_persons
from identity.services.phone import bind_phone
from identity.services.resolve import resolve_identity
from identity.services.undo import undo_merge
from profiles.services.definition_removal import delete_tag
from profiles.services.definitions import save_tag, save_tag_group
from profiles.services.ingest import ingest_events
from profiles.services.rules import refresh_rule_tag
from profiles.services.tags import assign_tags, remove_tag
from tests.clock import ago, iso_ago
from tests.factories import PersonFactory, TagFactory, TagGroupFactory

# serialized_rollback: the flush after a transactional test must not drop migration data
# (the built-in event types, the preset tags) that later tests rely on.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

PHONE, OTHER_PHONE = "13812345678", "13987654321"
METRIC = "uid_person_cache_requests_total"


# -- helpers -------------------------------------------------------------------------------------


def requests(result: str) -> float:
    return REGISTRY.get_sample_value(METRIC, {"result": result}) or 0.0


@contextmanager
def counted():
    """The person cache's requests during the block, by result (filled in when it ends)."""
    before = {result: requests(result) for result in PERSON_CACHE_RESULTS}
    delta: dict[str, float] = {}
    yield delta
    delta.update({result: requests(result) - before[result] for result in PERSON_CACHE_RESULTS})


def openid_path(app, openid: str) -> str:
    appid = app if isinstance(app, str) else app.appid
    return f"/api/v1/persons/lookup?appid={appid}&openid={openid}"


def unionid_path(unionid: str, platform: str = "wechat") -> str:
    return f"/api/v1/persons/lookup?unionid={unionid}&platform={platform}"


def phone_path(phone: str) -> str:
    return f"/api/v1/persons/lookup?phone={quote(phone)}"


def id_path(public_id: str) -> str:
    return f"/api/v1/persons/{public_id}"


def get(client, path: str) -> tuple[int, dict | None]:
    response = client.get(path)
    assert response.status_code in (200, 404), (path, response.content)
    return response.status_code, response.json() if response.status_code == 200 else None


def uncached(client, path: str) -> tuple[int, dict | None]:
    """The answer read from the database: inside a transaction the cache is bypassed."""
    with counted() as requests_made, transaction.atomic():
        answer = get(client, path)
    assert requests_made["hit"] == requests_made["miss"] == 0
    return answer


def key_paths(client, public_id: str, *merged_away: str) -> list[str]:
    """The lookups of every key a person is read by now (public ids merged into it too)."""
    status, body = uncached(client, id_path(public_id))
    assert status == 200
    paths = [openid_path(row["appid"], row["openid"]) for row in body["identities"]]
    paths += [unionid_path(unionid, platform) for platform, unionid in body["unionids"].items()]
    if body["phone"]:
        assert body["phone"].startswith("+"), "the client needs phone:read"
        paths.append(phone_path(body["phone"]))
    paths += [id_path(person_id) for person_id in (body["id"], *merged_away)]
    return paths


def warm(client, paths: list[str]) -> dict[str, dict]:
    """Fill the entry of every path; the second lookup of each is a hit with the same body."""
    bodies = {}
    for path in paths:
        first = get(client, path)
        assert first[0] == 200, path
        with counted() as second_lookup:
            again = get(client, path)
        assert second_lookup["hit"] == 1, (path, second_lookup)
        assert again == first, path
        bodies[path] = first[1]
    return bodies


def assert_fresh(client, paths: list[str]) -> dict[str, tuple[int, dict | None]]:
    """Every path answers what the database holds, on its first lookup and on the next one."""
    answers = {}
    for path in paths:
        first = get(client, path)
        expected = uncached(client, path)
        assert first == expected, path
        assert get(client, path) == expected, path
        answers[path] = first
    return answers


def held_tags(body: dict) -> list[str]:
    return [tag["key"] for tag in body["tags"]]


def closed_port() -> int:
    """A loopback port nobody listens on (bound for a moment by the system, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def poll(condition, *, timeout: float, every: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(every)
    return condition()


@pytest.fixture
def two_apps_person(miniprogram, service_account):
    """A person of both apps with one unionid and a phone (its four kinds of keys)."""
    return PersonFactory(
        openids={miniprogram: "oMiniA", service_account: "oSvcA"}, unionid="uA", phone=PHONE
    )


# -- hits by every key ---------------------------------------------------------------------------


def test_a_second_lookup_by_each_kind_of_key_is_a_hit_with_the_same_body(
    api, two_apps_person, miniprogram, actor
):
    paths = key_paths(api, two_apps_person.public_id)
    kinds = ["?appid=", "?unionid=", "?phone=", "/persons/p_"]
    assert [sum(kind in path for path in paths) for kind in kinds] == [2, 1, 1, 1]
    for path in paths:
        with counted() as first_lookup:
            first = get(api, path)
        with counted() as second_lookup:
            second = get(api, path)
        assert first[0] == 200, path
        assert (first_lookup["miss"], first_lookup["hit"]) == (1, 0), path
        assert (second_lookup["hit"], second_lookup["miss"]) == (1, 0), path
        assert second == first == uncached(api, path), path
    # Each key has its own entry, and all of them hold the same person.
    assert len({str(get(api, path)[1]) for path in paths}) == 1

    # An unknown key fills no entry: once it exists, it answers at once.
    unknown = openid_path(miniprogram, "oLater")
    assert get(api, unknown) == get(api, unknown) == (404, None)
    person = resolve_identity(app=miniprogram, openid="oLater", actor=actor).person
    assert get(api, unknown)[1]["id"] == person.public_id


def test_a_merged_away_id_answers_the_survivor_and_follows_its_changes(
    api, miniprogram, service_account, actor
):
    older = PersonFactory(openids={miniprogram: "oOld"}, unionid="uOld")
    younger = PersonFactory(openids={service_account: "oYoung"}, phone=PHONE)
    merge_persons(first=younger, second=older, reason=MergeReason.MANUAL, actor=actor)

    survivor = get(api, id_path(older.public_id))[1]
    with counted() as first_lookup:
        assert get(api, id_path(younger.public_id)) == (200, survivor)
    with counted() as second_lookup:
        assert get(api, id_path(younger.public_id)) == (200, survivor)
    assert (first_lookup["miss"], second_lookup["hit"]) == (1, 1)
    assert survivor["id"] == older.public_id

    assign_tags(person=older, keys=["vip"], actor=actor)

    answers = assert_fresh(api, [id_path(younger.public_id), id_path(older.public_id)])
    assert "vip" in held_tags(answers[id_path(younger.public_id)][1])
    assert answers[id_path(younger.public_id)] == answers[id_path(older.public_id)]


# -- the invalidation matrix: every change outdates every key of the persons it touches ---------


def test_resolve_linking_a_new_openid_through_the_unionid(api, person, service_account):
    paths = key_paths(api, person.public_id)
    warm(api, paths)
    new_key = openid_path(service_account, "oSvcNew")
    assert get(api, new_key) == (404, None)

    response = api.post(
        "/api/v1/identities/resolve",
        {"appid": service_account.appid, "openid": "oSvcNew", "unionid": "oUnion1"},
        format="json",
    )

    assert response.status_code == 200
    assert response.json()["person"] == uncached(api, id_path(person.public_id))[1]
    answers = assert_fresh(api, [*paths, new_key])
    assert {answer[1]["id"] for answer in answers.values()} == {person.public_id}
    body = answers[id_path(person.public_id)][1]
    assert [row["openid"] for row in body["identities"]] == ["oMini1", "oSvcNew"]


def test_phone_bind(api, person, actor):
    paths = key_paths(api, person.public_id)
    bodies = warm(api, paths)
    assert {body["phone"] for body in bodies.values()} == {None}

    bind_phone(person=person, phone=PHONE, actor=actor)

    answers = assert_fresh(api, [*paths, phone_path(PHONE)])
    assert {answer[1]["phone"] for answer in answers.values()} == {"+86" + PHONE}
    assert answers[phone_path(PHONE)][1]["id"] == person.public_id


def test_phone_moved_from_one_person_to_another(api, miniprogram, actor):
    holder = PersonFactory(openids={miniprogram: "oHolder"}, unionid="uHolder", phone=PHONE)
    taker = PersonFactory(openids={miniprogram: "oTaker"}, unionid="uTaker")
    holder_paths = key_paths(api, holder.public_id)
    taker_paths = key_paths(api, taker.public_id)
    warm(api, holder_paths + taker_paths)
    assert get(api, phone_path(PHONE))[1]["id"] == holder.public_id

    response = api.put(
        f"/api/v1/persons/{taker.public_id}/phone",
        {"phone": PHONE, "on_conflict": "move"},
        format="json",
    )

    assert response.status_code == 200
    assert response.json() == uncached(api, id_path(taker.public_id))[1]
    answers = assert_fresh(api, holder_paths + taker_paths)
    assert answers[phone_path("+86" + PHONE)][1]["id"] == taker.public_id
    assert answers[id_path(holder.public_id)][1]["phone"] is None
    assert answers[id_path(taker.public_id)][1]["phone"] == "+86" + PHONE
    assert answers[openid_path(miniprogram, "oHolder")][1]["phone"] is None


def test_phone_number_changed(api, two_apps_person, actor):
    paths = key_paths(api, two_apps_person.public_id)
    warm(api, paths)

    bind_phone(person=two_apps_person, phone=OTHER_PHONE, actor=actor)

    answers = assert_fresh(api, [*paths, phone_path("+86" + OTHER_PHONE)])
    assert answers[phone_path("+86" + PHONE)] == (404, None)
    assert answers[phone_path("+86" + OTHER_PHONE)][1]["id"] == two_apps_person.public_id
    assert answers[id_path(two_apps_person.public_id)][1]["phone"] == "+86" + OTHER_PHONE


@pytest.fixture
def pair(miniprogram, service_account, actor):
    """Two persons to merge: the older with an openid, a unionid and a tag, the younger with
    an openid, a phone and stats."""
    older = PersonFactory(openids={miniprogram: "oOlder"}, unionid="uOlder")
    younger = PersonFactory(openids={service_account: "oYounger"}, phone=PHONE)
    assign_tags(person=older, keys=["vip"], actor=actor)
    ingest_events(
        events=[
            {
                "event_id": "younger-1",
                "appid": service_account.appid,
                "openid": "oYounger",
                "type": "view",
                "occurred_at": iso_ago(hours=2),
            }
        ],
        actor=actor,
    )
    return older, younger


def test_merge_answers_the_survivor_by_both_persons_keys(api, pair, actor):
    older, younger = pair
    older_paths = key_paths(api, older.public_id)
    younger_paths = key_paths(api, younger.public_id)
    warm(api, older_paths + younger_paths)

    merge_persons(first=younger, second=older, reason=MergeReason.MANUAL, actor=actor)

    answers = assert_fresh(api, older_paths + younger_paths)
    survivor = answers[id_path(older.public_id)][1]
    assert {str(answer) for answer in answers.values()} == {str((200, survivor))}
    assert survivor["id"] == older.public_id
    assert survivor["phone"] == "+86" + PHONE
    assert "vip" in held_tags(survivor)
    assert survivor["stats"]["event_count"] == 1
    assert len(survivor["identities"]) == 2


def test_undo_of_a_merge_gives_both_persons_back(api, pair, actor):
    older, younger = pair
    before = {
        person.public_id: uncached(api, id_path(person.public_id))[1] for person in (older, younger)
    }
    older_paths = key_paths(api, older.public_id)
    younger_paths = key_paths(api, younger.public_id)
    record = merge_persons(first=younger, second=older, reason=MergeReason.MANUAL, actor=actor)
    warm(api, older_paths + younger_paths)  # every key answers the survivor now

    undo_merge(record=record, actor=actor)

    answers = assert_fresh(api, older_paths + younger_paths)
    for person, paths in ((older, older_paths), (younger, younger_paths)):
        expected = before[person.public_id]
        for path in paths:
            body = answers[path][1]
            assert body["id"] == person.public_id, path
            assert body["phone"] == expected["phone"], path
            assert body["identities"] == expected["identities"], path
            assert body["unionids"] == expected["unionids"], path
            assert held_tags(body) == held_tags(expected), path
            assert body["stats"]["event_count"] == expected["stats"]["event_count"], path


def test_erasure_leaves_no_key_answering(api, two_apps_person, miniprogram, actor):
    tombstone = PersonFactory(openids={})
    merge_persons(first=two_apps_person, second=tombstone, reason=MergeReason.MANUAL, actor=actor)
    paths = key_paths(api, two_apps_person.public_id, tombstone.public_id)
    warm(api, paths)

    assert api.delete(id_path(tombstone.public_id)).status_code == 204  # erases the survivor

    answers = assert_fresh(api, paths)
    assert set(answers.values()) == {(404, None)}


def test_a_restricted_keys_erasure_of_its_apps_part(
    api, make_client, two_apps_person, miniprogram, service_account, actor
):
    ingest_events(
        events=[
            {
                "event_id": f"{appid}-1",
                "appid": appid,
                "openid": openid,
                "type": "view",
                "occurred_at": iso_ago(hours=1),
            }
            for appid, openid in ((miniprogram.appid, "oMiniA"), (service_account.appid, "oSvcA"))
        ],
        actor=actor,
    )
    paths = key_paths(api, two_apps_person.public_id)
    bodies = warm(api, paths)
    assert bodies[id_path(two_apps_person.public_id)]["stats"]["event_count"] == 2
    mini_only = make_client(scopes=ALL_SCOPES, apps=[miniprogram.appid])

    assert mini_only.delete(id_path(two_apps_person.public_id)).status_code == 204

    answers = assert_fresh(api, paths)
    assert answers[openid_path(miniprogram, "oMiniA")] == (404, None)
    body = answers[id_path(two_apps_person.public_id)][1]
    assert [row["appid"] for row in body["identities"]] == [service_account.appid]
    assert body["stats"]["event_count"] == 1
    assert answers[openid_path(service_account, "oSvcA")][1] == body
    assert answers[unionid_path("uA")][1] == body


def test_tag_assign_and_remove(api, two_apps_person, actor):
    paths = key_paths(api, two_apps_person.public_id)
    warm(api, paths)

    response = api.post(
        f"/api/v1/persons/{two_apps_person.public_id}/tags", {"tags": ["vip"]}, format="json"
    )

    assert response.status_code == 200
    assert held_tags(response.json()) == ["vip"]
    answers = assert_fresh(api, paths)
    assert {tuple(held_tags(answer[1])) for answer in answers.values()} == {("vip",)}

    warm(api, paths)
    assert remove_tag(person=two_apps_person, key="vip", actor=actor)

    answers = assert_fresh(api, paths)
    assert {tuple(held_tags(answer[1])) for answer in answers.values()} == {()}


def test_a_rule_tag_refresh(api, miniprogram, actor):
    with_phone = PersonFactory(openids={miniprogram: "oWith"}, phone=PHONE)
    without = PersonFactory(openids={miniprogram: "oWithout"})
    tag = TagFactory(key="no-phone", rule=True, condition={"not": {"has_phone": True}})
    paths = key_paths(api, with_phone.public_id) + key_paths(api, without.public_id)
    warm(api, paths)

    assert refresh_rule_tag(tag=tag, actor=actor).added == 1

    answers = assert_fresh(api, paths)
    assert held_tags(answers[id_path(without.public_id)][1]) == ["no-phone"]
    assert held_tags(answers[id_path(with_phone.public_id)][1]) == []

    bind_phone(person=without, phone=OTHER_PHONE, actor=actor)
    paths = key_paths(api, with_phone.public_id) + key_paths(api, without.public_id)
    warm(api, paths)
    assert held_tags(get(api, id_path(without.public_id))[1]) == ["no-phone"]

    assert refresh_rule_tag(tag=tag, actor=actor).removed == 1

    answers = assert_fresh(api, paths)
    assert held_tags(answers[id_path(without.public_id)][1]) == []


def test_stats_updated_by_the_event_pipeline(api, two_apps_person, miniprogram, actor):
    paths = key_paths(api, two_apps_person.public_id)
    bodies = warm(api, paths)
    assert bodies[id_path(two_apps_person.public_id)]["stats"]["event_count"] == 0

    response = api.post(
        "/api/v1/events",
        {
            "events": [
                {
                    "event_id": f"pipeline-{number}",
                    "appid": miniprogram.appid,
                    "openid": "oMiniA",
                    "type": "pay" if number == 0 else "view",
                    "occurred_at": iso_ago(minutes=30 + number),
                }
                | ({"amount": "9.90"} if number == 0 else {})
                for number in range(3)
            ]
        },
        format="json",
    )

    assert response.status_code == 200
    assert response.json()["accepted"] == 3
    answers = assert_fresh(api, paths)
    for status, body in answers.values():
        assert (status, body["stats"]["event_count"], body["stats"]["pay_total"]) == (
            200,
            3,
            "9.90",
        )


def test_follow_and_unfollow(api, two_apps_person, service_account, actor):
    identity = Identity.objects.get(app=service_account, openid="oSvcA")
    paths = key_paths(api, two_apps_person.public_id)
    warm(api, paths)

    def follows(answers) -> set:
        return {
            row["followed"]
            for _, body in answers.values()
            for row in body["identities"]
            if row["appid"] == service_account.appid
        }

    for followed, at in ((True, ago(minutes=10)), (False, ago(minutes=5))):
        observation = FollowObservation(identity_pk=identity.pk, followed=followed, at=at)
        changes = record_follow_changes(observations=[observation], actor=actor, source="tests")
        assert changes.changed == 1
        answers = assert_fresh(api, paths)
        assert follows(answers) == {followed}
        warm(api, paths)


def test_changes_that_show_in_every_holders_answer(
    api, two_apps_person, person, miniprogram, actor
):
    """A tag renamed, its group renamed, an app's kind changed, the tag deleted: each shows in
    the answers of every holder (the epoch is replaced)."""
    group = TagGroupFactory(key="tier")
    tag = TagFactory(key="gold", name="Gold", group=group)
    assign_tags(person=two_apps_person, keys=["gold"], actor=actor)
    assign_tags(person=person, keys=["gold"], actor=actor)
    paths = key_paths(api, two_apps_person.public_id) + key_paths(api, person.public_id)

    def gold(answers) -> list[dict]:
        return [tag for _, body in answers.values() for tag in body["tags"] if tag["key"] == "gold"]

    def kinds(answers) -> set[str]:
        return {
            row["app_kind"]
            for _, body in answers.values()
            for row in body["identities"]
            if row["appid"] == miniprogram.appid
        }

    warm(api, paths)
    tag.name = "Gold members"
    save_tag(tag=tag, actor=actor)
    answers = assert_fresh(api, paths)
    assert {held["name"] for held in gold(answers)} == {"Gold members"}
    assert len(gold(answers)) == len(paths)

    warm(api, paths)
    group.key = "level"
    save_tag_group(group=group, actor=actor)
    answers = assert_fresh(api, paths)
    assert {held["group"] for held in gold(answers)} == {"level"}

    warm(api, paths)
    provision_app(appid=miniprogram.appid, kind=AppKind.H5, name="Now H5", actor=actor)
    answers = assert_fresh(api, paths)
    assert kinds(answers) == {AppKind.H5}

    warm(api, paths)
    assert delete_tag(tag=tag, actor=actor) == 2
    answers = assert_fresh(api, paths)
    assert gold(answers) == []


def test_a_returning_users_resolve_marks_the_person_seen(api, person, miniprogram):
    paths = key_paths(api, person.public_id)
    bodies = warm(api, paths)
    assert {body["stats"]["last_seen_at"] for body in bodies.values()} == {None}

    response = api.post(
        "/api/v1/identities/resolve",
        {"appid": miniprogram.appid, "openid": "oMini1", "unionid": "oUnion1"},
        format="json",
    )

    assert (response.status_code, response.json()["created"]) == (200, False)
    answers = assert_fresh(api, paths)
    assert None not in {body["stats"]["last_seen_at"] for _, body in answers.values()}


@pytest.mark.django_db  # reads the person from the database only: no transaction needed
def test_an_entry_lives_no_longer_than_its_first_expiring_tag(two_apps_person, settings, actor):
    def cached_seconds() -> int:
        return person_cache._seconds(read_person("public_id", [two_apps_person.public_id]))

    assert cached_seconds() == settings.PERSON_CACHE_SECONDS
    assign_tags(person=two_apps_person, keys=["vip"], actor=actor)
    assert cached_seconds() == settings.PERSON_CACHE_SECONDS
    expires_at = timezone.now() + timedelta(seconds=120)
    TagFactory(key="trial")
    assign_tags(person=two_apps_person, keys=["trial"], actor=actor, expires_at=expires_at)
    assert 110 <= cached_seconds() <= 120


def test_an_expired_tag_is_never_served_from_the_cache(api, two_apps_person, miniprogram, actor):
    """Polls the lookup around the tag's expiry: an answer read after it must not show it.

    The expiry is chosen just past a whole second from the first fill, where an entry that
    outlived the expiry by up to a second would be served (the refill less than a second
    before the expiry)."""
    TagFactory(key="trial")
    path = openid_path(miniprogram, "oMiniA")
    margin = timedelta(seconds=0.25)  # PostgreSQL's clock and this process's may differ a little
    expires_at = timezone.now() + timedelta(seconds=1.1)
    assign_tags(person=two_apps_person, keys=["trial"], actor=actor, expires_at=expires_at)
    shown_before, stale = 0, []
    deadline = expires_at + timedelta(seconds=1.5)
    while (started := timezone.now()) < deadline:
        shown = "trial" in held_tags(get(api, path)[1])
        if started < expires_at - margin:
            shown_before += shown
        elif started > expires_at + margin and shown:
            stale.append(round((started - expires_at).total_seconds(), 3))
        time.sleep(0.02)
    assert shown_before > 0
    assert stale == [], f"the expired tag was served {len(stale)} times, up to {max(stale)}s late"
    assert get(api, path) == uncached(api, path)


# -- restricted keys ----------------------------------------------------------------------------


@pytest.fixture
def three_keys(api, make_client, miniprogram, service_account):
    """The unrestricted key and one key restricted to each app."""
    return {
        "full": api,
        "mini": make_client(scopes=ALL_SCOPES, apps=[miniprogram.appid], name="mini only"),
        "svc": make_client(scopes=ALL_SCOPES, apps=[service_account.appid], name="svc only"),
    }


@pytest.fixture
def active_person(two_apps_person, miniprogram, service_account, actor):
    """The person of both apps with events in each: types, amounts and channels differ by app,
    so that every restricted number differs from the unrestricted one."""
    events = [
        (miniprogram, "oMiniA", "view", {"channel": "qr_store"}, 3),
        (miniprogram, "oMiniA", "pay", {"amount": "9.90"}, 2),
        (miniprogram, "oMiniA", "login", {}, 1),
        (service_account, "oSvcA", "view", {"channel": "menu"}, 5),
        (service_account, "oSvcA", "pay", {"amount": "5.05"}, 4),
        (service_account, "oSvcA", "pay", {"amount": "0.10"}, 4.5),
        (service_account, "oSvcA", "view", {}, 0.5),
    ]
    result = ingest_events(
        events=[
            {
                "event_id": f"active-{number}",
                "appid": app.appid,
                "openid": openid,
                "type": kind,
                "occurred_at": iso_ago(hours=hours),
                **extra,
            }
            for number, (app, openid, kind, extra, hours) in enumerate(events)
        ],
        actor=actor,
    )
    assert result.accepted == len(events)
    return two_apps_person


def paths_by_key(keys, person, miniprogram, service_account) -> dict[str, list[str]]:
    """The person's keys each client may look up (a restricted key names its own apps only)."""
    paths = key_paths(keys["full"], person.public_id)
    return {
        "full": paths,
        "mini": [path for path in paths if service_account.appid not in path],
        "svc": [path for path in paths if miniprogram.appid not in path],
    }


def test_restricted_keys_and_the_full_key_interleaved_each_get_their_own_answer(
    three_keys, active_person, miniprogram, service_account
):
    paths = paths_by_key(three_keys, active_person, miniprogram, service_account)
    expected = {
        name: {path: uncached(three_keys[name], path) for path in paths[name]} for name in paths
    }
    full, mini, svc = (expected[name][id_path(active_person.public_id)][1] for name in paths)
    assert [row["appid"] for row in mini["identities"]] == [miniprogram.appid]
    assert [row["appid"] for row in svc["identities"]] == [service_account.appid]
    assert len(full["identities"]) == 2
    assert (full["stats"]["event_count"], mini["stats"]["event_count"]) == (7, 3)
    assert svc["stats"]["event_count"] == 4
    assert (mini["stats"]["pay_total"], svc["stats"]["pay_total"]) == ("9.90", "5.15")
    assert (mini["stats"]["first_channel"], svc["stats"]["first_channel"]) == ("qr_store", "menu")
    assert mini["stats"]["last_login_at"] is not None
    assert svc["stats"]["last_login_at"] is None

    for order in (("mini", "full", "svc"), ("full", "svc", "mini"), ("svc", "mini", "full")):
        for name in order:
            for path in paths[name]:
                assert get(three_keys[name], path) == expected[name][path], (name, path)

    # Every answer comes from the one entry of each key of the person, whoever filled it.
    with counted() as served:
        for name in ("svc", "full", "mini"):
            for path in paths[name]:
                assert get(three_keys[name], path) == expected[name][path], (name, path)
    assert served["hit"] == sum(len(listed) for listed in paths.values())
    assert served["miss"] == 0


def test_restricted_keys_answers_follow_a_change(
    three_keys, active_person, miniprogram, service_account, actor
):
    paths = paths_by_key(three_keys, active_person, miniprogram, service_account)
    for name in ("mini", "full", "svc"):
        warm(three_keys[name], paths[name])

    ingest_events(
        events=[
            {
                "event_id": "restricted-change",
                "appid": miniprogram.appid,
                "openid": "oMiniA",
                "type": "pay",
                "amount": "1.00",
                "channel": "late",
                "occurred_at": iso_ago(minutes=5),
            }
        ],
        actor=actor,
    )
    assign_tags(person=active_person, keys=["vip"], actor=actor)

    answers = {name: assert_fresh(three_keys[name], paths[name]) for name in paths}
    by_id = {name: answers[name][id_path(active_person.public_id)][1] for name in answers}
    assert {name: body["stats"]["pay_total"] for name, body in by_id.items()} == {
        "full": "16.05",
        "mini": "10.90",
        "svc": "5.15",
    }
    assert all("vip" in held_tags(body) for body in by_id.values())
    assert len({str(body["tags"]) for body in by_id.values()}) == 1  # tags are everyone's


# -- Redis down ---------------------------------------------------------------------------------


@pytest.fixture
def redis(settings, monkeypatch):
    """Switch the default cache to a Redis nobody listens on (`down`) and back (`up`).

    The retries of an owed epoch (timers) are awaited at the end: a late one would replace the
    epoch in the middle of the next test."""
    working = settings.CACHES
    broken = {
        "default": {
            "BACKEND": "config.redis_cache.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{closed_port()}/0",
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
    retries_run: list[threading.Event] = []
    start = person_cache._start

    def tracked_start(work):
        done = threading.Event()
        retries_run.append(done)

        def run():
            try:
                work()
            finally:
                done.set()

        start(run)

    monkeypatch.setattr(person_cache, "_start", tracked_start)

    class Switch:
        def down(self):
            settings.CACHES = broken  # setting_changed drops every thread's cache connections
            assert isinstance(caches["default"], RedisCache)
            assert caches["default"]._servers == [broken["default"]["LOCATION"]]
            with pytest.raises(RedisError):
                cache.get("anything")

        def up(self):
            settings.CACHES = working
            backend = caches["default"]
            if working["default"]["BACKEND"].endswith("RedisCache"):
                assert backend._servers == [working["default"]["LOCATION"]]
            else:
                assert isinstance(backend, LocMemCache)
            cache.get("anything")  # answers

    switch = Switch()
    yield switch
    switch.up()
    assert poll(lambda: all(done.is_set() for done in retries_run), timeout=10)
    person_cache.forget_all()  # nothing owed into the next test


def test_lookups_read_the_database_while_redis_is_down(api, two_apps_person, redis):
    paths = key_paths(api, two_apps_person.public_id)
    warm(api, paths)
    redis.down()

    with counted() as while_down:
        for path in paths:
            answer = get(api, path)
            assert answer[0] == 200
            assert answer == uncached(api, path), path
    assert while_down["error"] == len(paths)
    assert while_down["hit"] == while_down["miss"] == 0

    redis.up()
    with counted() as back:
        assert_fresh(api, paths)
    assert back["hit"] == 2 * len(paths)  # the entries filled before: nothing changed since


def test_a_change_while_redis_is_down_is_never_hidden_by_an_entry_filled_before(
    api, two_apps_person, miniprogram, redis, monkeypatch, actor
):
    retries = []  # the retry of the epoch, run here instead of by a timer
    monkeypatch.setattr(person_cache, "_start", retries.append)
    paths = key_paths(api, two_apps_person.public_id)
    warm(api, paths)
    redis.down()

    bind_phone(person=two_apps_person, phone=OTHER_PHONE, actor=actor)
    assign_tags(person=two_apps_person, keys=["vip"], actor=actor)

    assert person_cache._owed.is_set()
    assert not person_cache.enabled()
    assert len(retries) == 1
    retries.pop()()  # still down: the retry fails and comes again
    assert person_cache._owed.is_set()
    assert len(retries) == 1

    redis.up()
    # The entries filled before the change are still there and their generation is unchanged
    # (the invalidation never reached Redis): only the owed epoch keeps them from being served.
    suffix = person_cache.cache_key("openid", [miniprogram.pk, "oMiniA"])
    stored = cache.get_many([person_cache.ENTRY + suffix, person_cache.GENERATION + suffix])
    entry = stored[person_cache.ENTRY + suffix]
    assert entry[0] == stored.get(person_cache.GENERATION + suffix)
    assert entry[1] == cache.get(person_cache.EPOCH)
    with counted() as owed:
        answers = assert_fresh(api, [*paths, phone_path("+86" + OTHER_PHONE)])
    assert owed["bypass"] == 3 * (len(paths) + 1)  # both lookups and the uncached read
    assert owed["hit"] == owed["miss"] == owed["error"] == 0
    assert answers[phone_path("+86" + PHONE)] == (404, None)
    assert held_tags(answers[id_path(two_apps_person.public_id)][1]) == ["vip"]

    retries.pop()()  # Redis answers: the epoch is replaced, the cache serves again
    assert not person_cache._owed.is_set()
    assert retries == []
    with counted() as served:
        answers = assert_fresh(api, [*paths, phone_path("+86" + OTHER_PHONE)])
    # Each path once a miss and once a hit, but the old phone's: a 404 fills no entry.
    assert served["hit"] == len(paths)
    assert served["miss"] == len(paths) + 2
    assert served["error"] == 0
    assert held_tags(answers[id_path(two_apps_person.public_id)][1]) == ["vip"]


# The owed epoch's retry is a thread's timer: like PostgreSQL's, it never fires under
# libfaketime (the clock moved ahead), so this is left out of that run (pg_timers).
@pytest.mark.pg_timers
def test_the_owed_epoch_is_replaced_by_the_retry_once_redis_is_back(
    api, two_apps_person, redis, actor
):
    path = id_path(two_apps_person.public_id)
    warm(api, [path])
    redis.down()
    assign_tags(person=two_apps_person, keys=["vip"], actor=actor)
    assert person_cache._owed.is_set()
    assert held_tags(get(api, path)[1]) == ["vip"]

    redis.up()

    assert poll(lambda: not person_cache._owed.is_set(), timeout=10), "the epoch was never replaced"
    with counted() as served:
        assert held_tags(assert_fresh(api, [path])[path][1]) == ["vip"]
    assert (served["miss"], served["hit"]) == (1, 1)


# The owed epoch's retry is a thread's timer: like PostgreSQL's, it never fires under
# libfaketime (the clock moved ahead), so this is left out of that run (pg_timers).
@pytest.mark.pg_timers
def test_a_resolve_and_its_answer_while_redis_is_down(api, person, service_account, redis):
    warm(api, key_paths(api, person.public_id))
    redis.down()

    response = api.post(
        "/api/v1/identities/resolve",
        {"appid": service_account.appid, "openid": "oSvcDown", "unionid": "oUnion1"},
        format="json",
    )

    assert response.status_code == 200
    assert [row["openid"] for row in response.json()["person"]["identities"]] == [
        "oMini1",
        "oSvcDown",
    ]
    redis.up()
    assert_fresh(api, key_paths(api, person.public_id))
