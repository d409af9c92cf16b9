"""Tags (DESIGN.md, "Tags"): manual assignment, expiry, exclusive groups, rule refresh, merges."""

import itertools
from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.test import APIClient

from config.api.scopes import IDENTITY_READ, IDENTITY_WRITE, TAGS_WRITE
from identity.exceptions import InvalidInput
from identity.models import AuditEntry, Person
from identity.services.merge import merge_persons
from identity.services.resolve import resolve_identity
from identity.services.undo import undo_merge
from profiles.models import PersonStats, Tag, TagAssignment, TagGroup
from profiles.services.definitions import save_tag
from profiles.services.ingest import ingest_events
from profiles.services.rules import refresh_rule_tag, refresh_rule_tags
from profiles.services.tags import assign_tags, remove_tag
from tests.clock import iso_ago
from tests.factories import PersonFactory, TagFactory, TagGroupFactory

pytestmark = pytest.mark.django_db

_ids = itertools.count(1)
LIFECYCLE = ("new", "active", "dormant", "churned")


@pytest.fixture
def tier():
    """An exclusive group with two manual tags."""
    group = TagGroupFactory(key="tier", name="Tier", exclusive=True)
    gold = TagFactory(key="gold", name="Gold", group=group)
    silver = TagFactory(key="silver", name="Silver", group=group)
    return group, gold, silver


@pytest.fixture
def coupon():
    return TagFactory(key="coupon_lover", name="Coupon lover")


def held(person) -> list[str]:
    """Keys of the person's active tags, sorted."""
    return sorted(
        TagAssignment.objects.active().filter(person=person).values_list("tag__key", flat=True)
    )


def pay(miniprogram, openid, days_ago=0.0, amount="10.00", type_="pay", **extra):
    body = {
        "event_id": f"tag-{next(_ids)}",
        "appid": miniprogram.appid,
        "openid": openid,
        "type": type_,
        "occurred_at": (timezone.now() - timedelta(days=days_ago)).isoformat(),
        **extra,
    }
    if type_ == "pay":
        body["amount"] = amount
    return body


def seen(miniprogram, openid, days_ago):
    return pay(miniprogram, openid, days_ago, type_="view")


# --- the services -----------------------------------------------------------------------------


def test_assign_tags_gives_manual_tags_with_source_actor_and_audit(person, coupon, actor):
    assign_tags(person=person, keys=["vip", "coupon_lover", "vip"], actor=actor)

    rows = TagAssignment.objects.filter(person=person).order_by("tag__key")
    assert [(row.tag_id, row.source, row.assigned_by, row.expires_at) for row in rows] == [
        (coupon.pk, "api", str(actor), None),
        (Tag.objects.get(key="vip").pk, "api", str(actor), None),
    ]
    entry = AuditEntry.objects.get(action="tag.assign")
    assert entry.person_id == person.pk
    assert sorted(entry.after["tags"]) == ["coupon_lover", "vip"]


def test_assigning_again_keeps_the_first_time_and_takes_the_new_expiry(person, actor):
    assign_tags(person=person, keys=["vip"], actor=actor)
    first = TagAssignment.objects.get(person=person)
    later = timezone.now() + timedelta(days=3)

    assign_tags(person=person, keys=["vip"], actor=actor, expires_at=later)

    again = TagAssignment.objects.get(person=person)
    assert again.assigned_at == first.assigned_at
    assert again.expires_at == later


@pytest.mark.parametrize(
    ("keys", "field"),
    [(["nope"], "tags"), (["vip", "nope"], "tags"), (["repeat_buyer"], "tags"), ([], "tags")],
)
def test_assign_tags_refuses_unknown_and_rule_tags(person, actor, keys, field):
    with pytest.raises(InvalidInput) as caught:
        assign_tags(person=person, keys=keys, actor=actor)
    assert set(caught.value.details) == {field}
    assert not TagAssignment.objects.filter(person=person).exists()
    assert not AuditEntry.objects.filter(action="tag.assign").exists()


def test_assign_tags_refuses_an_expiry_in_the_past(person, actor):
    with pytest.raises(InvalidInput) as caught:
        assign_tags(
            person=person, keys=["vip"], actor=actor, expires_at=timezone.now() - timedelta(1)
        )
    assert set(caught.value.details) == {"expires_at"}


def test_remove_tag_takes_it_and_audits_once(person, actor):
    assign_tags(person=person, keys=["vip"], actor=actor)

    remove_tag(person=person, key="vip", actor=actor)
    remove_tag(person=person, key="vip", actor=actor)  # not held: nothing changes

    assert held(person) == []
    entry = AuditEntry.objects.get(action="tag.remove")
    assert (entry.person_id, entry.before) == (person.pk, {"tags": ["vip"]})


@pytest.mark.parametrize("key", ["nope", "repeat_buyer"])
def test_remove_tag_refuses_unknown_and_rule_tags(person, actor, key):
    with pytest.raises(InvalidInput):
        remove_tag(person=person, key=key, actor=actor)


# --- the API ----------------------------------------------------------------------------------


def test_post_tags_answers_the_person_with_its_tags(api, person):
    response = api.post(
        f"/api/v1/persons/{person.public_id}/tags", {"tags": ["vip"]}, format="json"
    )

    assert response.status_code == 200
    body = response.json()
    assert body["id"] == person.public_id
    [tag] = body["tags"]
    assert {k: tag[k] for k in ("key", "name", "group", "source", "expires_at")} == {
        "key": "vip",
        "name": "VIP",
        "group": "value",
        "source": "api",
        "expires_at": None,
    }
    assert tag["assigned_at"]
    entry = AuditEntry.objects.get(action="tag.assign")
    assert (entry.person_id, entry.actor_type) == (person.pk, "api_key")


def test_post_tags_with_expiry_and_expired_tags_disappear(api, person, coupon):
    until = timezone.now() + timedelta(hours=2)
    response = api.post(
        f"/api/v1/persons/{person.public_id}/tags",
        {"tags": ["vip"], "expires_at": until.isoformat()},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["tags"][0]["expires_at"] is not None
    api.post(f"/api/v1/persons/{person.public_id}/tags", {"tags": ["coupon_lover"]}, format="json")

    TagAssignment.objects.filter(person=person, tag__key="vip").update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )

    body = api.get(f"/api/v1/persons/{person.public_id}").json()
    assert [tag["key"] for tag in body["tags"]] == ["coupon_lover"]
    assert held(person) == ["coupon_lover"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"tags": ["nope"]}, "tags"),
        ({"tags": ["repeat_buyer"]}, "tags"),
        ({"tags": []}, "tags"),
        ({"tags": "vip"}, "tags"),
        ({}, "tags"),
        ({"tags": ["vip"], "expires_at": "2020-01-01T00:00:00Z"}, "expires_at"),
        ({"tags": ["vip"], "expires_at": "tomorrow"}, "expires_at"),
    ],
)
def test_post_tags_rejects_bad_input_naming_the_field(api, person, body, field):
    response = api.post(f"/api/v1/persons/{person.public_id}/tags", body, format="json")
    assert response.status_code == 400
    assert field in response.json()["error"]["details"]
    assert not TagAssignment.objects.filter(person=person).exists()


def test_tag_endpoints_need_the_tags_write_scope(make_client, person):
    client = make_client(scopes=[IDENTITY_READ, IDENTITY_WRITE])
    post = client.post(f"/api/v1/persons/{person.public_id}/tags", {"tags": ["vip"]}, format="json")
    delete = client.delete(f"/api/v1/persons/{person.public_id}/tags/vip")
    anonymous = APIClient().post(
        f"/api/v1/persons/{person.public_id}/tags", {"tags": ["vip"]}, format="json"
    )

    assert (post.status_code, delete.status_code, anonymous.status_code) == (403, 403, 401)
    assert not TagAssignment.objects.exists()

    writer = make_client(scopes=[TAGS_WRITE])
    ok = writer.post(f"/api/v1/persons/{person.public_id}/tags", {"tags": ["vip"]}, format="json")
    assert ok.status_code == 200


def test_post_tags_for_an_unknown_person_is_404(api, miniprogram):
    response = api.post("/api/v1/persons/p_nobody/tags", {"tags": ["vip"]}, format="json")
    assert response.status_code == 404


def test_delete_tag_answers_the_person_without_it(api, person, coupon, actor):
    assign_tags(person=person, keys=["vip", "coupon_lover"], actor=actor)

    response = api.delete(f"/api/v1/persons/{person.public_id}/tags/vip")

    assert response.status_code == 200
    assert [tag["key"] for tag in response.json()["tags"]] == ["coupon_lover"]
    entry = AuditEntry.objects.get(action="tag.remove")
    assert (entry.person_id, entry.actor_type) == (person.pk, "api_key")


@pytest.mark.parametrize("key", ["nope", "repeat_buyer"])
def test_delete_unknown_or_rule_tag_is_400(api, person, key):
    response = api.delete(f"/api/v1/persons/{person.public_id}/tags/{key}")
    assert response.status_code == 400
    assert response.json()["error"]["details"]


def test_tag_definitions_are_listed(api):
    response = api.get("/api/v1/tags")
    assert response.status_code == 200
    tags = {tag["key"]: tag for tag in response.json()["results"]}
    assert {"new", "active", "dormant", "churned", "repeat_buyer", "high_value", "vip"} <= set(tags)
    assert (tags["dormant"]["group"], tags["dormant"]["exclusive"]) == ("lifecycle", True)
    assert (tags["vip"]["kind"], tags["repeat_buyer"]["kind"]) == ("manual", "rule")


# --- exclusive groups -------------------------------------------------------------------------


def test_a_second_tag_of_an_exclusive_group_replaces_the_first(person, tier, actor):
    assign_tags(person=person, keys=["gold", "vip"], actor=actor)

    assign_tags(person=person, keys=["silver"], actor=actor)

    assert held(person) == ["silver", "vip"]
    entry = AuditEntry.objects.filter(action="tag.assign").order_by("pk").last()
    assert entry.before == {"replaced": ["gold"]}


def test_exclusive_replacement_through_the_api(api, person, tier):
    url = f"/api/v1/persons/{person.public_id}/tags"
    api.post(url, {"tags": ["gold"]}, format="json")
    body = api.post(url, {"tags": ["silver"]}, format="json").json()
    assert [tag["key"] for tag in body["tags"]] == ["silver"]


def test_two_tags_of_one_exclusive_group_at_once_are_refused(person, tier, actor):
    with pytest.raises(InvalidInput) as caught:
        assign_tags(person=person, keys=["gold", "silver"], actor=actor)
    assert set(caught.value.details) == {"tags"}
    assert held(person) == []


def test_the_database_holds_a_person_to_one_tag_per_exclusive_group(person, tier):
    group, gold, silver = tier
    TagAssignment.objects.create(person=person, tag=gold, exclusive_group=group, source="admin")
    with pytest.raises(IntegrityError), transaction.atomic():
        TagAssignment.objects.create(
            person=person, tag=silver, exclusive_group=group, source="admin"
        )
    assert held(person) == ["gold"]


def test_the_database_holds_a_person_to_one_assignment_per_tag(person):
    vip = Tag.objects.get(key="vip")
    TagAssignment.objects.create(person=person, tag=vip, source="admin")
    with pytest.raises(IntegrityError), transaction.atomic():
        TagAssignment.objects.create(person=person, tag=vip, source="api")


# --- rule tags --------------------------------------------------------------------------------


def test_refresh_adds_the_newly_matching_and_removes_the_no_longer_matching(miniprogram, actor):
    ingest_events(
        events=[
            pay(miniprogram, "oOne", 3),
            pay(miniprogram, "oTwo", 3),
            pay(miniprogram, "oTwo", 2),
            pay(miniprogram, "oThree", 3),
            pay(miniprogram, "oThree", 2),
            pay(miniprogram, "oThree", 1),
            seen(miniprogram, "oNone", 1),
        ],
        actor=actor,
    )
    _one, two, three, none = (
        Person.objects.get(identities__openid=openid)
        for openid in ("oOne", "oTwo", "oThree", "oNone")
    )
    rule = TagFactory(
        key="big_spender",
        name="Big spender",
        rule=True,
        condition={"field": "pay_count", "op": ">=", "value": 2},
    )
    # a stale assignment of a person who does not match
    TagAssignment.objects.create(person=none, tag=rule, source="rule")

    result = refresh_rule_tag(tag=rule, actor=actor)

    assert (result.added, result.removed) == (2, 1)
    holders = set(rule.assignments.values_list("person_id", flat=True))
    assert holders == {two.pk, three.pk}
    assert set(rule.assignments.values_list("source", flat=True)) == {"rule"}
    rule.refresh_from_db()
    assert (rule.last_refresh_added, rule.last_refresh_removed) == (2, 1)
    assert rule.last_refreshed_at is not None

    # unchanged data: a second refresh changes nothing
    again = refresh_rule_tag(tag=rule, actor=actor)
    assert (again.added, again.removed) == (0, 0)

    rule.condition = {"field": "pay_count", "op": ">=", "value": 3}
    rule.save()
    narrower = refresh_rule_tag(tag=rule, actor=actor)

    assert (narrower.added, narrower.removed) == (0, 1)
    assert set(rule.assignments.values_list("person_id", flat=True)) == {three.pk}
    # one entry per refresh that changed something; the no-op refresh wrote none
    assert AuditEntry.objects.filter(action="tag.refresh", target="big_spender").count() == 2


def test_refresh_keeps_the_first_assignment_time_of_those_still_matching(miniprogram, actor):
    ingest_events(events=[pay(miniprogram, "oTwo", 2), pay(miniprogram, "oTwo", 1)], actor=actor)
    before = TagAssignment.objects.get(tag__key="repeat_buyer")

    refresh_rule_tags(actor=actor)

    after = TagAssignment.objects.get(tag__key="repeat_buyer")
    assert (after.pk, after.assigned_at) == (before.pk, before.assigned_at)


def test_refresh_of_a_manual_tag_is_refused(actor):
    with pytest.raises(ValueError, match="not a rule tag"):
        refresh_rule_tag(tag=Tag.objects.get(key="vip"), actor=actor)


def lifecycle(person) -> list[str]:
    return sorted(
        TagAssignment.objects.filter(person=person, tag__group__key="lifecycle").values_list(
            "tag__key", flat=True
        )
    )


def test_lifecycle_presets_move_a_person_through_the_exclusive_group(miniprogram, actor):
    ingest_events(events=[seen(miniprogram, "oLife", 40)], actor=actor)
    person = Person.objects.get(identities__openid="oLife")
    assert lifecycle(person) == ["dormant"]

    ingest_events(events=[seen(miniprogram, "oLife", 0.01)], actor=actor)

    assert lifecycle(person) == ["active"]  # not new: first seen 40 days ago

    # time passes (the stats say so) and the daily full refresh moves the person on
    PersonStats.objects.filter(person=person).update(
        first_seen_at=timezone.now() - timedelta(days=200),
        last_seen_at=timezone.now() - timedelta(days=100),
    )
    refresh_rule_tags(actor=actor)
    assert lifecycle(person) == ["churned"]

    PersonStats.objects.filter(person=person).update(
        last_seen_at=timezone.now() - timedelta(days=20)
    )
    refresh_rule_tags(actor=actor)
    assert lifecycle(person) == ["cooling"]  # between active and dormant


def test_lifecycle_new_then_active(miniprogram, actor):
    ingest_events(events=[seen(miniprogram, "oFresh", 1)], actor=actor)
    person = Person.objects.get(identities__openid="oFresh")
    assert lifecycle(person) == ["new"]

    PersonStats.objects.filter(person=person).update(
        first_seen_at=timezone.now() - timedelta(days=10)
    )
    refresh_rule_tags(actor=actor)
    assert lifecycle(person) == ["active"]


def test_a_rule_tag_displaces_a_manual_tag_of_its_exclusive_group(miniprogram, actor):
    """Assigning one tag of an exclusive group removes the others, whoever assigned them."""
    manual = TagFactory(
        key="vip_life", name="VIP life", group=TagGroup.objects.get(key="lifecycle")
    )
    ingest_events(events=[seen(miniprogram, "oLife", 40)], actor=actor)
    person = Person.objects.get(identities__openid="oLife")
    assign_tags(person=person, keys=[manual.key], actor=actor)
    assert lifecycle(person) == ["vip_life"]

    refresh_rule_tags(actor=actor)

    assert lifecycle(person) == ["dormant"]


def test_ingest_refreshes_rule_tags_of_the_batch_persons_only(miniprogram, actor):
    other = resolve_identity(app=miniprogram, openid="oOther", actor=actor).person
    ingest_events(events=[seen(miniprogram, "oOther", 1)], actor=actor)
    PersonStats.objects.filter(person=other).update(pay_count=5)  # not through ingest

    result = ingest_events(
        events=[pay(miniprogram, "oBuyer", 2), pay(miniprogram, "oBuyer", 1)], actor=actor
    )

    assert result.accepted == 2
    buyer = Person.objects.get(identities__openid="oBuyer")
    assert "repeat_buyer" in held(buyer)
    assert "repeat_buyer" not in held(other)  # outside the batch: left to the full refresh

    refresh_rule_tags(actor=actor, keys=["repeat_buyer"])
    assert "repeat_buyer" in held(other)


def test_ingest_refreshes_a_rule_tag_that_depends_on_another_rule_tag(miniprogram, actor):
    """A rule tag may use another rule tag (only itself is forbidden): after the ingest that
    makes a repeat buyer, a tag defined as "repeat buyer" must follow, whatever the key order."""
    loyal = TagFactory(key="loyal", name="Loyal", rule=True, condition={"tag": "repeat_buyer"})

    ingest_events(events=[pay(miniprogram, "oFan", 2), pay(miniprogram, "oFan", 1)], actor=actor)

    fan = Person.objects.get(identities__openid="oFan")
    assert "repeat_buyer" in held(fan)
    assert loyal.key in held(fan)


def test_a_rule_tag_with_a_valid_zero_minimum_does_not_break_ingest(miniprogram, actor):
    """`min_count: 0` passes validation ("0 or more times"), so it must also compile: the rule
    refresh runs after every ingest."""
    rule = save_tag(
        tag=Tag(
            key="anyone",
            name="Anyone",
            kind="rule",
            condition={"event": "pay", "within_days": 30, "min_count": 0},
        ),
        actor=actor,
    )

    result = ingest_events(events=[seen(miniprogram, "oAny", 1)], actor=actor)

    assert result.accepted == 1
    assert rule.key in held(Person.objects.get(identities__openid="oAny"))


def test_ingest_of_a_single_payment_does_not_make_a_repeat_buyer(miniprogram, actor):
    ingest_events(events=[pay(miniprogram, "oOnce", 1)], actor=actor)
    ingest_events(events=[seen(miniprogram, "oOnce", 0.5)], actor=actor)
    assert "repeat_buyer" not in held(Person.objects.get(identities__openid="oOnce"))

    ingest_events(events=[pay(miniprogram, "oOnce", 0.1)], actor=actor)
    assert "repeat_buyer" in held(Person.objects.get(identities__openid="oOnce"))


def test_incremental_refresh_also_removes(miniprogram, actor):
    ingest_events(events=[pay(miniprogram, "oB", 2), pay(miniprogram, "oB", 1)], actor=actor)
    buyer = Person.objects.get(identities__openid="oB")
    assert "repeat_buyer" in held(buyer)
    PersonStats.objects.filter(person=buyer).update(pay_count=1)  # e.g. after a correction

    ingest_events(events=[seen(miniprogram, "oB", 0.5)], actor=actor)

    assert "repeat_buyer" not in held(buyer)


def test_high_value_after_ingest(miniprogram, actor):
    ingest_events(events=[pay(miniprogram, "oRich", 1, amount="999.99")], actor=actor)
    rich = Person.objects.get(identities__openid="oRich")
    assert "high_value" not in held(rich)

    ingest_events(events=[pay(miniprogram, "oRich", 0.5, amount="0.01")], actor=actor)

    assert {"high_value", "repeat_buyer"} <= set(held(rich))


# --- merges -----------------------------------------------------------------------------------


def rows(person) -> list[tuple]:
    return sorted(
        TagAssignment.objects.filter(person=person).values_list(
            "tag__key", "exclusive_group_id", "source", "assigned_by", "assigned_at", "expires_at"
        )
    )


def at(person, key, days_ago):
    TagAssignment.objects.filter(person=person, tag__key=key).update(
        assigned_at=timezone.now() - timedelta(days=days_ago)
    )


@pytest.fixture
def pair(miniprogram, h5):
    """An older person (the survivor of a merge) and a younger one (the loser)."""
    older = PersonFactory(openids={miniprogram: "oOlder"})
    younger = PersonFactory(openids={h5: "oYounger"})
    return older, younger


def test_merge_keeps_the_earliest_assignment_of_a_shared_tag(pair, coupon, actor):
    older, younger = pair
    assign_tags(person=older, keys=["vip"], actor=actor, source="admin")
    assign_tags(person=younger, keys=["vip", "coupon_lover"], actor=actor)
    at(older, "vip", 1)
    at(younger, "vip", 10)
    earliest = TagAssignment.objects.get(person=younger, tag__key="vip")

    record = merge_persons(first=older, second=younger, reason="manual", actor=actor)

    assert record.survivor_id == older.pk
    survivor_rows = rows(older)
    assert [row[0] for row in survivor_rows] == ["coupon_lover", "vip"]
    vip = TagAssignment.objects.get(person=older, tag__key="vip")
    assert (vip.assigned_at, vip.source) == (earliest.assigned_at, "api")
    assert rows(younger) == []


def test_merge_keeps_the_survivors_tag_when_it_is_earlier(pair, actor):
    older, younger = pair
    assign_tags(person=older, keys=["vip"], actor=actor, source="admin")
    assign_tags(person=younger, keys=["vip"], actor=actor)
    at(older, "vip", 10)
    at(younger, "vip", 1)

    merge_persons(first=older, second=younger, reason="manual", actor=actor)

    vip = TagAssignment.objects.get(person=older, tag__key="vip")
    assert vip.source == "admin"
    assert vip.assigned_at < timezone.now() - timedelta(days=9)


@pytest.mark.parametrize(("older_days", "younger_days", "kept"), [(1, 5, "silver"), (5, 1, "gold")])
def test_merge_resolves_an_exclusive_clash_by_the_earliest(
    pair, tier, actor, older_days, younger_days, kept
):
    older, younger = pair
    assign_tags(person=older, keys=["gold"], actor=actor)
    assign_tags(person=younger, keys=["silver"], actor=actor)
    at(older, "gold", older_days)
    at(younger, "silver", younger_days)

    merge_persons(first=older, second=younger, reason="manual", actor=actor)

    assert held(older) == [kept]
    assert held(younger) == []


def test_merge_prefers_an_active_assignment_to_an_earlier_expired_one(pair, actor):
    """Expired tags are not active: an old, expired assignment must not wipe out the tag the
    other person actively holds."""
    older, younger = pair
    assign_tags(person=older, keys=["vip"], actor=actor)
    assign_tags(person=younger, keys=["vip"], actor=actor)
    TagAssignment.objects.filter(person=older).update(
        assigned_at=timezone.now() - timedelta(days=10),
        expires_at=timezone.now() - timedelta(days=1),
    )
    at(younger, "vip", 2)

    merge_persons(first=older, second=younger, reason="manual", actor=actor)

    assert held(older) == ["vip"]


def test_undo_merge_restores_both_persons_tags_exactly(pair, tier, coupon, actor):
    older, younger = pair
    assign_tags(person=older, keys=["vip", "gold"], actor=actor, source="admin")
    assign_tags(
        person=younger,
        keys=["vip", "silver", "coupon_lover"],
        actor=actor,
        expires_at=timezone.now() + timedelta(days=30),
    )
    at(older, "vip", 2)
    at(older, "gold", 1)
    at(younger, "vip", 8)
    at(younger, "silver", 9)
    before = (rows(older), rows(younger))

    record = merge_persons(first=older, second=younger, reason="manual", actor=actor)
    assert held(older) == ["coupon_lover", "silver", "vip"]

    undo_merge(record=record, actor=actor)

    assert (rows(older), rows(younger)) == before


def test_undo_merge_keeps_tags_the_survivor_gained_since(pair, coupon, actor):
    older, younger = pair
    assign_tags(person=younger, keys=["vip"], actor=actor)
    record = merge_persons(first=older, second=younger, reason="manual", actor=actor)
    assign_tags(person=older, keys=["coupon_lover"], actor=actor)

    undo_merge(record=record, actor=actor)

    assert held(older) == ["coupon_lover"]
    assert held(younger) == ["vip"]


def test_a_merge_by_unionid_carries_tags(miniprogram, service_account, actor):
    mini = resolve_identity(app=miniprogram, openid="oM", actor=actor).person
    svc = resolve_identity(app=service_account, openid="oS", unionid="oUnion9", actor=actor).person
    assign_tags(person=svc, keys=["vip"], actor=actor)

    survivor = resolve_identity(app=miniprogram, openid="oM", unionid="oUnion9", actor=actor).person

    assert survivor.pk == mini.pk
    assert held(survivor) == ["vip"]


def test_rule_tags_follow_a_merge_once_it_commits(
    miniprogram, h5, actor, django_capture_on_commit_callbacks
):
    """Two persons with one payment each: merged, the survivor is a repeat buyer."""
    from identity.services.merge import merge_persons
    from profiles.models import TagAssignment

    older = resolve_identity(app=miniprogram, openid="oMergeA", actor=actor).person
    younger = resolve_identity(app=h5, openid="oMergeB", actor=actor).person
    for app, openid, event_id in ((miniprogram, "oMergeA", "m-1"), (h5, "oMergeB", "m-2")):
        ingest_events(
            events=[
                {
                    "event_id": event_id,
                    "appid": app.appid,
                    "openid": openid,
                    "type": "pay",
                    "amount": "9.00",
                    "occurred_at": iso_ago(days=30),
                }
            ],
            actor=actor,
        )
    assert not TagAssignment.objects.filter(tag__key="repeat_buyer").exists()
    with django_capture_on_commit_callbacks(execute=True):
        merge_persons(first=older, second=younger, reason="manual", actor=actor)
    assert TagAssignment.objects.get(tag__key="repeat_buyer").person_id == older.pk
