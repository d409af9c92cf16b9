"""Resolves, bulk resolves and logins set first/last seen: the lifecycle tags' input."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from identity.models import Person
from identity.services.bulk_resolve import bulk_resolve
from identity.services.resolve import resolve_identity
from platforms.wechat.services.follower_import import import_followers
from platforms.wechat.services.logins import miniprogram_login, oauth_login
from profiles.models import PersonStats, TagAssignment
from profiles.services.pipeline import apply_pending_events
from profiles.services.rules import refresh_rule_tags
from profiles.services.seen import GRANULARITY, record_seen
from profiles.services.stats_rebuild import rebuild_all_stats, rebuild_stats
from tests.clock import ago, iso_ago
from tests.conftest import PERSON_OPENID, PERSON_UNIONID
from tests.platforms.wechat.conftest import MINI, SERVICE, wechat_apps  # noqa: F401

pytestmark = pytest.mark.django_db

LIFECYCLE = ("new", "active", "cooling", "dormant", "churned")


def seen(person: Person) -> tuple:
    stats = PersonStats.objects.filter(person=person).first()
    return (stats.first_seen_at, stats.last_seen_at) if stats else (None, None)


def set_seen(person: Person, first, last) -> None:
    """Make these the person's times as resolves left them (no events)."""
    PersonStats.objects.update_or_create(
        person=person,
        defaults={
            "first_seen_at": first,
            "last_seen_at": last,
            "first_resolved_at": first,
            "last_resolved_at": last,
        },
    )


def test_resolving_a_new_openid_marks_the_person_first_and_last_seen_now(miniprogram, actor):
    before = timezone.now()
    person = resolve_identity(app=miniprogram, openid="oSeen1", actor=actor).person
    first, last = seen(person)
    assert first == last
    assert before <= first <= timezone.now()


def test_a_later_resolve_moves_last_seen_and_keeps_first_seen(miniprogram, actor):
    person = resolve_identity(app=miniprogram, openid="oSeen1", actor=actor).person
    set_seen(person, ago(days=40), ago(days=20))
    resolve_identity(app=miniprogram, openid="oSeen1", actor=actor)
    first, last = seen(person)
    assert first < ago(days=39)
    assert last > ago(minutes=1)


def test_a_resolve_within_the_granularity_writes_nothing(
    miniprogram, actor, django_assert_num_queries
):
    person = resolve_identity(app=miniprogram, openid="oSeen1", actor=actor).person
    recent = timezone.now() - GRANULARITY / 2
    set_seen(person, ago(days=3), recent)
    stored = PersonStats.objects.get(person=person).updated_at
    resolve_identity(app=miniprogram, openid="oSeen1", actor=actor)
    stats = PersonStats.objects.get(person=person)
    assert (stats.last_seen_at, stats.updated_at) == (recent, stored)
    # And once the granularity has passed it does move.
    set_seen(person, ago(days=3), timezone.now() - GRANULARITY - timedelta(minutes=1))
    resolve_identity(app=miniprogram, openid="oSeen1", actor=actor)
    assert seen(person)[1] > ago(minutes=1)


def test_recording_is_one_statement_for_many_persons(miniprogram, django_assert_num_queries):
    persons = [Person.objects.create() for _ in range(5)]
    with django_assert_num_queries(1):
        record_seen([p.pk for p in persons], timezone.now())
    assert all(seen(p)[0] is not None for p in persons)


def test_a_rolled_back_resolve_marks_nobody(miniprogram, actor):
    def resolve_then_fail():
        with transaction.atomic():
            resolve_identity(app=miniprogram, openid="oSeen1", actor=actor)
            raise RuntimeError

    with pytest.raises(RuntimeError):
        resolve_then_fail()
    assert not PersonStats.objects.exists()


def test_a_resolve_that_merges_marks_the_survivor(miniprogram, service_account, actor):
    # Two persons, one per app, then a unionid proves they are one human.
    first = resolve_identity(app=miniprogram, openid="oMiniA", unionid="oUnionA", actor=actor)
    second = resolve_identity(app=service_account, openid="oSvcA", actor=actor).person
    # The younger person (the loser) holds the earlier sighting (imported, say).
    set_seen(first.person, ago(days=10), ago(days=10))
    set_seen(second, ago(days=50), ago(days=50))
    survivor = resolve_identity(
        app=service_account, openid="oSvcA", unionid="oUnionA", actor=actor
    ).person
    assert survivor == first.person
    first_seen, last_seen = seen(survivor)
    assert first_seen < ago(days=49)  # the loser's first sighting carried over
    assert last_seen > ago(minutes=1)


def test_bulk_resolve_marks_the_persons_it_creates_when_asked(miniprogram, actor):
    known = resolve_identity(app=miniprogram, openid="oKnown", actor=actor).person
    set_seen(known, ago(days=40), ago(days=40))
    at = ago(minutes=5)
    with transaction.atomic():
        result = bulk_resolve(
            app=miniprogram, entries={"oKnown": None, "oNew": None}, actor=actor, seen_at=at
        )
    new = Person.objects.get(pk=result.subjects["oNew"][0])
    assert seen(new) == (at, at)
    assert seen(known)[1] < ago(days=39)  # a follower list again is no sign of them


def test_bulk_resolve_of_an_ingest_leaves_seen_to_the_events(miniprogram, actor):
    with transaction.atomic():
        result = bulk_resolve(app=miniprogram, entries={"oNew": None}, actor=actor)
    assert seen(Person.objects.get(pk=result.subjects["oNew"][0])) == (None, None)


def test_an_ingest_of_old_events_does_not_make_their_persons_seen_now(api, event):
    # A backfill of old events creates its persons: the events, not the resolve, say when.
    response = api.post(
        "/api/v1/events", {"events": [event(occurred_at=iso_ago(days=60))]}, format="json"
    )
    assert response.status_code == 200, response.content
    apply_pending_events()
    first, last = seen(Person.objects.live().get())
    assert first == last < ago(days=59)


def test_miniprogram_and_oauth_logins_mark_the_person_seen(fake_wechat, wechat_apps, actor):  # noqa: F811
    code = fake_wechat.login_code(MINI, "oMiniUser1")
    person = miniprogram_login(app=wechat_apps["miniprogram"], code=code, actor=actor).person
    assert seen(person)[1] > ago(minutes=1)
    set_seen(person, ago(days=20), ago(days=20))

    code = fake_wechat.oauth_code(SERVICE, "oSvcUser1", scope="snsapi_base")
    web = oauth_login(app=wechat_apps["service_account"], code=code, actor=actor).person
    assert seen(web)[0] > ago(minutes=1)
    code = fake_wechat.login_code(MINI, "oMiniUser1")
    miniprogram_login(app=wechat_apps["miniprogram"], code=code, actor=actor)
    first, last = seen(person)
    assert first < ago(days=19)
    assert last > ago(minutes=1)


def test_a_lookup_does_not_mark_seen(api, person):
    PersonStats.objects.filter(person=person).delete()
    assert api.get(f"/api/v1/persons/{person.public_id}").status_code == 200
    assert not PersonStats.objects.filter(person=person).exists()


def test_the_resolve_api_marks_a_returning_user_seen(api, person, miniprogram):
    set_seen(person, ago(days=40), ago(days=20))
    answer = api.post(
        "/api/v1/identities/resolve",
        {"appid": miniprogram.appid, "openid": PERSON_OPENID, "unionid": PERSON_UNIONID},
        format="json",
    )
    assert (answer.status_code, answer.json()["created"]) == (200, False)
    first, last = seen(person)
    assert first < ago(days=39)
    assert last > ago(minutes=1)


def test_a_rebuild_from_events_keeps_a_seen_by_resolve_time(miniprogram, actor):
    person = resolve_identity(app=miniprogram, openid="oSeen1", actor=actor).person
    set_seen(person, ago(days=12), ago(days=2))
    assert rebuild_stats([person.pk]) == 1
    assert seen(person)[0] < ago(days=11)
    assert seen(person)[1] < ago(days=1)
    assert rebuild_all_stats(dry_run=True)[1] == 0


def test_imported_followers_get_a_lifecycle_tag_after_the_refresh(fake_wechat, wechat_apps, actor):  # noqa: F811
    for number in range(3):
        fake_wechat.add_follower(SERVICE, f"oF{number}", scene="ADD_SCENE_QR_CODE", at=1700000000)
    import_followers(app=wechat_apps["service_account"], actor=actor)
    refresh_rule_tags(actor=actor, keys=LIFECYCLE)
    tags = TagAssignment.objects.filter(tag__key__in=LIFECYCLE)
    assert sorted(tags.values_list("tag__key", flat=True)) == ["new"] * 3
    assert tags.values("person").distinct().count() == Person.objects.live().count() == 3


def test_only_a_sighting_of_its_own_skips_the_wait_for_the_flush(miniprogram, actor):
    """A resolve's own transaction (a created person, its audit) must be durable; a returning
    user's sighting alone need not (identity.seen.record_sighting)."""
    from django.db import connection

    from identity.seen import record_sighting

    def synchronous_commit():
        with connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            return cursor.fetchone()[0]

    person = resolve_identity(app=miniprogram, openid="oSeen1", actor=actor, seen=False).person
    record_seen([person.pk], ago(days=3))
    assert synchronous_commit() == "on"
    record_sighting(person_ids=[person.pk], at=timezone.now())
    assert synchronous_commit() == "off"  # local to the statement's transaction (here the test's)
    assert seen(person)[1] > ago(minutes=1)
