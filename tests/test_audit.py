"""The audit log: every change writes exactly one entry, in the change's own transaction.

For each service, and for the API and admin paths that call it, a successful change adds one
entry naming the action, the actor and the person or target; a refused change adds none; and a
change whose audit entry cannot be written does not happen. No entry holds a phone number in
clear.
"""

import json
from datetime import timedelta

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db import DatabaseError, connection, transaction
from django.db.models import Max
from django.urls import reverse
from django.utils import timezone

from config.api.scopes import IDENTITY_READ, IDENTITY_WRITE, PERSONS_ERASE, PHONE_READ, TAGS_WRITE
from identity.exceptions import (
    Conflict,
    InvalidInput,
    MergeConflict,
    OpenidConflict,
    PersonErased,
    PhoneConflict,
    UndoConflict,
    UnionidConflict,
)
from identity.models import Actor, ApiKey, App, AppKind, AuditEntry, MergeRecord, Person
from identity.services.api_keys import create_api_key, revoke_api_key
from identity.services.app_secrets import set_app_credentials
from identity.services.apps import provision_app
from identity.services.bulk_resolve import bulk_resolve
from identity.services.erase import erase_person
from identity.services.merge import merge_persons
from identity.services.phone import bind_phone
from identity.services.resolve import resolve_identity
from identity.services.undo import undo_merge
from profiles.models import Segment, Tag, TagAssignment, TagGroup, TagKind
from profiles.services.definition_removal import delete_segment, delete_tag, delete_tag_group
from profiles.services.definitions import save_segment, save_tag, save_tag_group
from profiles.services.rules import refresh_rule_tag
from profiles.services.tags import assign_tags, bulk_assign_tag, bulk_remove_tag, remove_tag
from tests.clock import iso_ago
from tests.conftest import SYSTEM

pytestmark = pytest.mark.django_db

PHONE, OTHER_PHONE = "13812345678", "13987654321"
PLAINTEXT_PHONES = (PHONE, OTHER_PHONE)


class Watch:
    """The audit entries written since the watch started."""

    def __init__(self):
        self.mark = AuditEntry.objects.aggregate(last=Max("pk"))["last"] or 0

    def entries(self) -> list[AuditEntry]:
        return list(AuditEntry.objects.filter(pk__gt=self.mark).order_by("pk"))

    def one(self, action: str, *, actor: Actor = SYSTEM, person=None, target=None) -> AuditEntry:
        entries = self.entries()
        assert [entry.action for entry in entries] == [action]
        entry = entries[0]
        assert (entry.actor_type, entry.actor) == (actor.type, actor.label)
        if person is not None:
            assert entry.person_id == person.pk
            assert entry.target == person.public_id
        if target is not None:
            assert entry.target == target
        return entry

    def none(self) -> None:
        assert [entry.action for entry in self.entries()] == []


@pytest.fixture(autouse=True)
def no_plaintext_phone_in_the_log(db):
    yield
    for entry in AuditEntry.objects.all():
        text = json.dumps([entry.target, entry.before, entry.after, entry.actor])
        assert not any(phone in text for phone in PLAINTEXT_PHONES), entry.action


def refuse_audit_entries() -> None:
    """Make every insert into the audit log fail (a trigger, dropped with the test's
    transaction), so that a change must roll back with its entry."""
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION refuse_audit() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'audit log refused'; END $$"
        )
        cursor.execute(
            "CREATE TRIGGER refuse_audit BEFORE INSERT ON identity_auditentry "
            "FOR EACH ROW EXECUTE FUNCTION refuse_audit()"
        )


@pytest.fixture
def alice(miniprogram):
    """A person in the mini-program with a unionid."""
    return resolve_identity(app=miniprogram, openid="oAlice", unionid="uAlice", actor=SYSTEM).person


@pytest.fixture
def vip(db):
    """The preset manual tag."""
    return Tag.objects.get(key="vip")


@pytest.fixture
def rule_tag(miniprogram, settings):
    tag = Tag(key="mini-users", name="Mini users", kind=TagKind.RULE)
    tag.condition = {"app": miniprogram.appid}
    # Its refresh only queued (not run inline): the tests refresh it themselves.
    settings.JOBS_RUN_INLINE = False
    saved = save_tag(tag=tag, actor=SYSTEM)
    settings.JOBS_RUN_INLINE = True
    return saved


def merged_pair(miniprogram, service_account) -> MergeRecord:
    older = resolve_identity(app=miniprogram, openid="oOlder", actor=SYSTEM).person
    younger = resolve_identity(app=service_account, openid="oYounger", actor=SYSTEM).person
    return merge_persons(first=older, second=younger, reason="manual", actor=SYSTEM)


# -- identities: resolve --------------------------------------------------------------------


def test_resolving_a_new_openid_creates_with_one_entry(miniprogram):
    watch = Watch()
    person = resolve_identity(app=miniprogram, openid="oNew", unionid="uNew", actor=SYSTEM).person
    entry = watch.one("identity.create", person=person)
    assert entry.after["app"] == miniprogram.appid


def test_resolving_a_known_openid_changes_nothing(alice, miniprogram):
    watch = Watch()
    resolve_identity(app=miniprogram, openid="oAlice", unionid="uAlice", actor=SYSTEM)
    watch.none()


def test_an_openid_of_a_known_unionid_links_with_one_entry(alice, service_account):
    watch = Watch()
    resolve_identity(app=service_account, openid="oAliceSvc", unionid="uAlice", actor=SYSTEM)
    assert watch.one("identity.link", person=alice).after["via"] == "unionid"


def test_a_new_unionid_of_a_known_openid_links_with_one_entry(miniprogram):
    person = resolve_identity(app=miniprogram, openid="oBob", actor=SYSTEM).person
    watch = Watch()
    resolve_identity(app=miniprogram, openid="oBob", unionid="uBob", actor=SYSTEM)
    watch.one("unionid.link", person=person)


def test_a_unionid_proving_one_human_merges_with_one_entry(miniprogram, service_account):
    older = resolve_identity(app=miniprogram, openid="oCarol", actor=SYSTEM).person
    younger = resolve_identity(
        app=service_account, openid="oCarolSvc", unionid="uCarol", actor=SYSTEM
    ).person
    watch = Watch()
    resolve_identity(app=miniprogram, openid="oCarol", unionid="uCarol", actor=SYSTEM)
    entry = watch.one("person.merge", person=older)
    assert entry.before["loser"]["id"] == younger.public_id


@pytest.mark.parametrize(
    ("openid", "unionid", "error"),
    [
        ("undefined", None, InvalidInput),  # a blocked value
        ("oAlice", "null", InvalidInput),
        ("oAliceOther", "uAlice", OpenidConflict),  # the unionid's person has another openid
        ("oAlice", "uSomeoneElse", UnionidConflict),  # the openid has another unionid
    ],
)
def test_a_refused_resolve_writes_nothing(alice, miniprogram, openid, unionid, error):
    watch = Watch()
    with pytest.raises(error):
        resolve_identity(app=miniprogram, openid=openid, unionid=unionid, actor=SYSTEM)
    watch.none()


def test_a_merge_that_would_break_an_invariant_writes_nothing(alice, miniprogram):
    resolve_identity(app=miniprogram, openid="oDave", actor=SYSTEM)
    watch = Watch()
    with pytest.raises(MergeConflict):  # two openids of the mini-program for one person
        resolve_identity(app=miniprogram, openid="oDave", unionid="uAlice", actor=SYSTEM)
    watch.none()


def test_bulk_resolve_writes_one_entry_per_change(alice, miniprogram, service_account):
    """The follower import resolves through bulk_resolve: creates, links by a known unionid
    and unionids added to known openids are audited like resolve_identity's."""
    known = resolve_identity(app=service_account, openid="oKnown", actor=SYSTEM).person
    watch = Watch()
    with transaction.atomic():
        result = bulk_resolve(
            app=service_account,
            entries={"oAliceSvc": "uAlice", "oKnown": "uKnown", "oFresh": "uFresh"},
            actor=SYSTEM,
        )
    fresh = Person.objects.get(pk=result.subjects["oFresh"][0])
    entries = {entry.action: entry for entry in watch.entries()}
    assert len(watch.entries()) == 3
    assert set(entries) == {"identity.create", "identity.link", "unionid.link"}
    assert (entries["identity.create"].person, entries["identity.create"].target) == (
        fresh,
        fresh.public_id,
    )
    assert "unionid" in entries["identity.create"].after
    assert (entries["identity.link"].person, entries["identity.link"].target) == (
        alice,
        alice.public_id,
    )
    assert (entries["unionid.link"].person, entries["unionid.link"].target) == (
        known,
        known.public_id,
    )

    again = Watch()
    with transaction.atomic():
        bulk_resolve(app=service_account, entries={"oAliceSvc": "uAlice"}, actor=SYSTEM)
    again.none()


# -- identities: phones, merges, undo, erasure ----------------------------------------------


def test_binding_a_free_phone_writes_one_masked_entry(alice):
    watch = Watch()
    bind_phone(person=alice, phone=PHONE, actor=SYSTEM)
    entry = watch.one("phone.bind", person=alice)
    assert entry.before == {"phone": None}
    assert entry.after["phone"].startswith("+86 138")


def test_replacing_ones_own_number_writes_one_entry(alice):
    bind_phone(person=alice, phone=PHONE, actor=SYSTEM)
    watch = Watch()
    bind_phone(person=alice, phone=OTHER_PHONE, actor=SYSTEM)
    watch.one("phone.bind", person=alice)


def test_binding_the_same_number_again_changes_nothing(alice):
    bind_phone(person=alice, phone=PHONE, actor=SYSTEM)
    watch = Watch()
    bind_phone(person=alice, phone=PHONE, actor=SYSTEM)
    watch.none()


def test_moving_a_number_writes_one_entry_for_both_persons(alice, service_account):
    bind_phone(person=alice, phone=PHONE, actor=SYSTEM)
    bob = resolve_identity(app=service_account, openid="oBob", unionid="uBob", actor=SYSTEM).person
    watch = Watch()
    bind_phone(person=bob, phone=PHONE, on_conflict="move", actor=SYSTEM)
    entry = watch.one("phone.move", person=bob)
    assert entry.after["moved_from"] == alice.public_id
    assert Person.objects.get(pk=alice.pk).phone_index is None


@pytest.mark.parametrize("on_conflict", ["merge", "fail"])
def test_a_phone_conflict_writes_nothing(alice, service_account, on_conflict):
    bind_phone(person=alice, phone=PHONE, actor=SYSTEM)
    bob = resolve_identity(app=service_account, openid="oBob", unionid="uBob", actor=SYSTEM).person
    watch = Watch()
    with pytest.raises(PhoneConflict):
        bind_phone(person=bob, phone=PHONE, on_conflict=on_conflict, actor=SYSTEM)
    watch.none()


def test_an_invalid_phone_writes_nothing(alice):
    watch = Watch()
    with pytest.raises(InvalidInput):
        bind_phone(person=alice, phone="12", actor=SYSTEM)
    watch.none()


@pytest.mark.parametrize("own_number", [None, OTHER_PHONE])
def test_a_phone_held_by_a_mergeable_person_merges_with_one_entry(
    alice, service_account, own_number
):
    bind_phone(person=alice, phone=PHONE, actor=SYSTEM)
    bob = resolve_identity(app=service_account, openid="oBob", actor=SYSTEM).person
    if own_number:
        bind_phone(person=bob, phone=own_number, actor=SYSTEM)
    watch = Watch()
    survivor = bind_phone(person=bob, phone=PHONE, actor=SYSTEM)
    entry = watch.one("person.merge", person=alice)
    assert survivor == alice
    assert entry.after["phone_bound_by"] == bob.public_id
    assert ("phone_replaced" in entry.after) == bool(own_number)


def test_merge_persons_writes_one_entry_and_a_conflict_none(miniprogram, service_account, h5):
    watch = Watch()
    record = merged_pair(miniprogram, service_account)
    creates = [entry.action for entry in watch.entries()]
    assert creates == ["identity.create", "identity.create", "person.merge"]
    assert watch.entries()[-1].person == record.survivor

    third = resolve_identity(app=miniprogram, openid="oThird", actor=SYSTEM).person
    refused = Watch()
    with pytest.raises(MergeConflict):  # two mini-program openids
        merge_persons(first=record.survivor, second=third, reason="manual", actor=SYSTEM)
    with pytest.raises(MergeConflict):  # already one
        merge_persons(first=record.survivor, second=record.loser, reason="manual", actor=SYSTEM)
    refused.none()


def test_undo_writes_one_entry_and_a_second_undo_none(miniprogram, service_account):
    record = merged_pair(miniprogram, service_account)
    watch = Watch()
    undo_merge(record=record, actor=SYSTEM)
    watch.one("merge.undo", person=record.loser)

    again = Watch()
    with pytest.raises(UndoConflict):
        undo_merge(record=record, actor=SYSTEM)
    again.none()


def test_erasure_writes_one_entry_and_a_second_erasure_none(alice):
    bind_phone(person=alice, phone=PHONE, actor=SYSTEM)
    watch = Watch()
    erase_person(person=alice, actor=SYSTEM)
    entry = watch.one("person.erase", person=alice)
    assert entry.before == {"identities": 1, "unionids": 1, "phone": True}

    again = Watch()
    erase_person(person=alice, actor=SYSTEM)
    again.none()


# -- tags and segments ----------------------------------------------------------------------


def test_assigning_tags_writes_one_entry(alice, vip):
    watch = Watch()
    assign_tags(person=alice, keys=[vip.key], actor=SYSTEM)
    assert watch.one("tag.assign", person=alice).after["tags"] == [vip.key]


def test_an_exclusive_replacement_is_one_entry(alice):
    group = save_tag_group(group=TagGroup(key="tier", name="Tier", exclusive=True), actor=SYSTEM)
    gold, silver = (
        save_tag(tag=Tag(key=key, name=key, kind=TagKind.MANUAL, group=group), actor=SYSTEM)
        for key in ("gold", "silver")
    )
    assign_tags(person=alice, keys=[gold.key], actor=SYSTEM)
    watch = Watch()
    assign_tags(person=alice, keys=[silver.key], actor=SYSTEM)
    assert watch.one("tag.assign", person=alice).before == {"replaced": ["gold"]}


@pytest.mark.parametrize(
    ("keys", "expires_in"),
    [(["nope"], None), (["mini-users"], None), (["vip"], timedelta(days=-1)), ([], None)],
    ids=["unknown tag", "rule tag", "expired", "no tags"],
)
def test_a_refused_tag_assignment_writes_nothing(alice, vip, rule_tag, keys, expires_in):
    watch = Watch()
    expires_at = timezone.now() + expires_in if expires_in else None
    with pytest.raises(InvalidInput):
        assign_tags(person=alice, keys=keys, expires_at=expires_at, actor=SYSTEM)
    watch.none()


def test_tagging_an_erased_person_writes_nothing(alice, vip):
    erase_person(person=alice, actor=SYSTEM)
    watch = Watch()
    with pytest.raises(PersonErased):
        assign_tags(person=alice, keys=[vip.key], actor=SYSTEM)
    watch.none()


def test_removing_a_tag_writes_one_entry_and_nothing_held_none(alice, vip, rule_tag):
    assign_tags(person=alice, keys=[vip.key], actor=SYSTEM)
    watch = Watch()
    remove_tag(person=alice, key=vip.key, actor=SYSTEM)
    watch.one("tag.remove", person=alice)

    again = Watch()
    remove_tag(person=alice, key=vip.key, actor=SYSTEM)
    for key in ("nope", rule_tag.key):
        with pytest.raises(InvalidInput):
            remove_tag(person=alice, key=key, actor=SYSTEM)
    again.none()


def test_bulk_tagging_writes_one_entry_per_action(alice, miniprogram, vip, rule_tag):
    bob = resolve_identity(app=miniprogram, openid="oBob", actor=SYSTEM).person
    watch = Watch()
    assert bulk_assign_tag(persons=[alice, bob], key=vip.key, actor=SYSTEM) == 2
    entry = watch.one("tag.bulk_assign", target=vip.key)
    assert sorted(entry.after["persons"]) == sorted([alice.public_id, bob.public_id])

    removing = Watch()
    assert bulk_remove_tag(persons=[alice, bob], key=vip.key, actor=SYSTEM) == 2
    removing.one("tag.bulk_remove", target=vip.key)

    refused = Watch()
    with pytest.raises(InvalidInput):
        bulk_assign_tag(persons=[alice], key=rule_tag.key, actor=SYSTEM)
    refused.none()


def test_refreshing_a_rule_tag_writes_one_entry(alice, rule_tag, vip):
    watch = Watch()
    result = refresh_rule_tag(tag=rule_tag, actor=SYSTEM)
    assert result.added == 1
    assert watch.one("tag.refresh", target=rule_tag.key).after["added"] == 1

    refused = Watch()
    with pytest.raises(ValueError, match="not a rule tag"):
        refresh_rule_tag(tag=vip, actor=SYSTEM)
    refused.none()


def test_saving_definitions_writes_one_entry_each(db):
    watch = Watch()
    group = save_tag_group(group=TagGroup(key="hobbies", name="Hobbies"), actor=SYSTEM)
    watch.one("tag_group.create", target="hobbies")
    steps = [
        ("tag_group.update", "hobbies", lambda: save_tag_group(group=group, actor=SYSTEM)),
        (
            "tag.create",
            "coffee",
            lambda: save_tag(
                tag=Tag(key="coffee", name="Coffee", kind=TagKind.MANUAL, group=group),
                actor=SYSTEM,
            ),
        ),
        ("tag.update", "coffee", lambda: save_tag(tag=Tag.objects.get(key="coffee"), actor=SYSTEM)),
        (
            "segment.create",
            "coffee-fans",
            lambda: save_segment(
                segment=Segment(key="coffee-fans", name="Fans", condition={"tag": "coffee"}),
                actor=SYSTEM,
            ),
        ),
        (
            "segment.update",
            "coffee-fans",
            lambda: save_segment(segment=Segment.objects.get(key="coffee-fans"), actor=SYSTEM),
        ),
        (
            "segment.delete",
            "coffee-fans",
            lambda: delete_segment(segment=Segment.objects.get(key="coffee-fans"), actor=SYSTEM),
        ),
        (
            "tag.delete",
            "coffee",
            lambda: delete_tag(tag=Tag.objects.get(key="coffee"), actor=SYSTEM),
        ),
        ("tag_group.delete", "hobbies", lambda: delete_tag_group(group=group, actor=SYSTEM)),
    ]
    for action, target, step in steps:
        watch = Watch()
        step()
        watch.one(action, target=target)


def test_refused_definition_changes_write_nothing(alice, vip, vip_segment):
    group = save_tag_group(group=TagGroup(key="tier", name="Tier"), actor=SYSTEM)
    gold, silver = (
        save_tag(tag=Tag(key=key, name=key, kind=TagKind.MANUAL, group=group), actor=SYSTEM)
        for key in ("gold", "silver")
    )
    assign_tags(person=alice, keys=[gold.key, silver.key], actor=SYSTEM)
    watch = Watch()
    with pytest.raises(InvalidInput):  # Alice holds two of its tags
        save_tag_group(
            group=TagGroup(pk=group.pk, key="tier", name="Tier", exclusive=True), actor=SYSTEM
        )
    with pytest.raises(InvalidInput):  # a rule needs a condition
        save_tag(tag=Tag(key="broken", name="Broken", kind=TagKind.RULE), actor=SYSTEM)
    with pytest.raises(InvalidInput):
        save_tag(
            tag=Tag(key="broken", name="Broken", kind=TagKind.RULE, condition={"bogus": 1}),
            actor=SYSTEM,
        )
    with pytest.raises(InvalidInput):
        save_segment(segment=Segment(key="bad", name="Bad", condition={"tag": 3}), actor=SYSTEM)
    with pytest.raises(Conflict):  # the segment's condition names it
        delete_tag(tag=vip, actor=SYSTEM)
    with pytest.raises(Conflict):  # the group still has tags
        delete_tag_group(group=group, actor=SYSTEM)
    watch.none()


# -- API keys and apps ----------------------------------------------------------------------


def test_api_keys_write_one_entry_per_change(miniprogram):
    watch = Watch()
    key, _ = create_api_key(
        name="backend", scopes=[IDENTITY_READ], appids=[miniprogram.appid], actor=SYSTEM
    )
    watch.one("api_key.create", target=str(key))

    revoking = Watch()
    revoke_api_key(key=key, actor=SYSTEM)
    revoke_api_key(key=key, actor=SYSTEM)  # already revoked: no change
    revoking.one("api_key.revoke", target=str(key))

    refused = Watch()
    for scopes, appids in ((["root"], []), ([IDENTITY_READ], ["wxUnknown"])):
        with pytest.raises(InvalidInput):
            create_api_key(name="bad", scopes=scopes, appids=appids, actor=SYSTEM)
    refused.none()


def test_apps_write_one_entry_per_change(db):
    watch = Watch()
    app, _ = provision_app(appid="wxAudit", kind=AppKind.H5, name="Audit", actor=SYSTEM)
    watch.one("app.create", target="wxAudit")

    steps = [
        (
            "app.update",
            lambda: provision_app(
                appid="wxAudit", kind=AppKind.H5, name="Renamed", secret="s-1", actor=SYSTEM
            ),
        ),
        ("app.credentials", lambda: set_app_credentials(app=app, secret="s-2", actor=SYSTEM)),
    ]
    for action, step in steps:
        watch = Watch()
        step()
        assert watch.one(action, target="wxAudit").after
        assert "s-1" not in json.dumps(watch.entries()[0].after)

    refused = Watch()
    set_app_credentials(app=app, actor=SYSTEM)  # nothing to change
    with pytest.raises(InvalidInput):
        provision_app(appid="wx audit", kind=AppKind.H5, name="Bad", actor=SYSTEM)
    with pytest.raises(InvalidInput):
        provision_app(appid="wxAudit", kind=AppKind.H5, name="X", platform="alipay", actor=SYSTEM)
    refused.none()


# -- a change whose entry cannot be written does not happen --------------------------------


def _resolve(w):
    return lambda: resolve_identity(app=w["mini"], openid="oNew", actor=SYSTEM), (
        lambda: Person.objects.count()
    )


def _bind(w):
    return lambda: bind_phone(person=w["alice"], phone=PHONE, actor=SYSTEM), (
        lambda: Person.objects.get(pk=w["alice"].pk).phone_index
    )


def _merge(w):
    bob = resolve_identity(app=w["svc"], openid="oBob", actor=SYSTEM).person
    return lambda: merge_persons(first=w["alice"], second=bob, reason="manual", actor=SYSTEM), (
        lambda: list(Person.objects.values_list("pk", "merged_into_id").order_by("pk"))
    )


def _undo(w):
    record = merged_pair(w["mini"], w["svc"])
    return lambda: undo_merge(record=record, actor=SYSTEM), (
        lambda: MergeRecord.objects.get(pk=record.pk).undone_at
    )


def _erase(w):
    return lambda: erase_person(person=w["alice"], actor=SYSTEM), (
        lambda: Person.objects.get(pk=w["alice"].pk).erased_at
    )


def _tag(w):
    return lambda: assign_tags(person=w["alice"], keys=["vip"], actor=SYSTEM), (
        lambda: TagAssignment.objects.filter(tag__key="vip").count()
    )


def _bulk_tag(w):
    return lambda: bulk_assign_tag(persons=[w["alice"]], key="vip", actor=SYSTEM), (
        lambda: TagAssignment.objects.filter(tag__key="vip").count()
    )


def _refresh(w):
    return lambda: refresh_rule_tag(tag=w["rule_tag"], actor=SYSTEM), (
        lambda: TagAssignment.objects.filter(tag__key="mini-users").count()
    )


def _save_segment(w):
    segment = Segment(key="new", name="New", condition={"tag": "vip"})
    return lambda: save_segment(segment=segment, actor=SYSTEM), lambda: Segment.objects.count()


def _api_key(w):
    return lambda: create_api_key(name="k", scopes=[IDENTITY_READ], actor=SYSTEM), (
        lambda: ApiKey.objects.count()
    )


def _bulk_resolve(w):
    def change():
        with transaction.atomic():
            bulk_resolve(app=w["svc"], entries={"oAliceSvc": "uAlice"}, actor=SYSTEM)

    return change, lambda: Person.objects.get(pk=w["alice"].pk).identities.count()


@pytest.mark.parametrize(
    "change",
    [
        _resolve,
        _bind,
        _merge,
        _undo,
        _erase,
        _tag,
        _bulk_tag,
        _refresh,
        _save_segment,
        _api_key,
        _bulk_resolve,
    ],
)
def test_a_change_whose_entry_cannot_be_written_does_not_happen(
    alice, miniprogram, service_account, vip, rule_tag, change
):
    world = {"alice": alice, "mini": miniprogram, "svc": service_account, "rule_tag": rule_tag}
    act, probe = change(world)
    before = probe()
    refuse_audit_entries()

    with pytest.raises(DatabaseError, match="audit log refused"):
        act()

    assert probe() == before


# -- through the API ------------------------------------------------------------------------


def key_actor(name: str) -> Actor:
    return Actor.api_key(ApiKey.objects.get(name=name))


def test_api_changes_write_one_entry_each(make_client, alice, miniprogram, vip):
    scopes = [IDENTITY_WRITE, PHONE_READ, TAGS_WRITE, PERSONS_ERASE]
    api = make_client(scopes=scopes, name="backend")
    actor = key_actor("backend")
    person_url = f"/api/v1/persons/{alice.public_id}"
    steps = [
        (
            "identity.create",
            lambda: api.post(
                "/api/v1/identities/resolve",
                {"appid": miniprogram.appid, "openid": "oApi"},
                format="json",
            ),
            200,
        ),
        (
            "phone.bind",
            lambda: api.put(f"{person_url}/phone", {"phone": PHONE}, format="json"),
            200,
        ),
        (
            "tag.assign",
            lambda: api.post(f"{person_url}/tags", {"tags": ["vip"]}, format="json"),
            200,
        ),
        ("tag.remove", lambda: api.delete(f"{person_url}/tags/vip"), 200),
        ("person.erase", lambda: api.delete(person_url), 204),
    ]
    for action, request, status in steps:
        watch = Watch()
        assert request().status_code == status
        entry = watch.one(action, actor=actor)
        assert entry.person is not None


def test_refused_api_changes_write_nothing(make_client, alice, service_account, miniprogram):
    bind_phone(person=alice, phone=PHONE, actor=SYSTEM)
    bob = resolve_identity(app=service_account, openid="oBob", unionid="uBob", actor=SYSTEM).person
    api = make_client(scopes=[IDENTITY_WRITE, PHONE_READ, TAGS_WRITE], name="backend")
    bob_url = f"/api/v1/persons/{bob.public_id}"
    watch = Watch()
    requests = [
        (lambda: api.put(f"{bob_url}/phone", {"phone": PHONE}, format="json"), 409),
        (lambda: api.put(f"{bob_url}/phone", {"phone": "12"}, format="json"), 400),
        (lambda: api.post(f"{bob_url}/tags", {"tags": ["nope"]}, format="json"), 400),
        (
            lambda: api.post(
                "/api/v1/identities/resolve",
                {"appid": miniprogram.appid, "openid": "undefined"},
                format="json",
            ),
            400,
        ),
        (lambda: api.delete(f"/api/v1/persons/{alice.public_id}"), 403),  # no erase scope
    ]
    for request, status in requests:
        assert request().status_code == status
    watch.none()


def test_an_event_for_a_new_openid_writes_one_create_entry(make_client, miniprogram):
    api = make_client(name="backend")
    watch = Watch()
    events = [
        {
            "event_id": f"evt-audit-{openid}",
            "appid": miniprogram.appid,
            "openid": openid,
            "type": "view",
            "occurred_at": iso_ago(hours=1),
        }
        for openid in ("oEv1", "oEv2", "oEv1")
    ]
    assert api.post("/api/v1/events", {"events": events}, format="json").status_code == 200
    creates = [entry for entry in watch.entries() if entry.action != "tag.refresh"]
    assert [entry.action for entry in creates] == ["identity.create", "identity.create"]
    assert {entry.person.identities.get().openid for entry in creates} == {"oEv1", "oEv2"}
    assert all(entry.target == entry.person.public_id for entry in creates)


# -- through the admin ----------------------------------------------------------------------


def admin_url(model, view: str, *args) -> str:
    opts = model._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_{view}", args=args)


@pytest.fixture
def admin_actor(admin_user):
    return Actor.admin(admin_user)


def test_admin_tag_and_segment_pages_write_one_entry_each(admin_client, admin_actor, vip):
    steps = [
        (
            "tag_group.create",
            "tier",
            admin_url(TagGroup, "add"),
            {"key": "tier", "name": "Tier", "description": ""},
        ),
        (
            "tag.create",
            "gold",
            admin_url(Tag, "add"),
            {"key": "gold", "name": "Gold", "group": "", "kind": "manual", "condition": ""},
        ),
        (
            "tag.update",
            "vip",
            admin_url(Tag, "change", vip.pk),
            {"name": "Very important", "group": "", "kind": "manual", "condition": ""},
        ),
        (
            "segment.create",
            "gold-vips",
            admin_url(Segment, "add"),
            {"key": "gold-vips", "name": "Gold VIPs", "condition": '{"tag": "vip"}'},
        ),
    ]
    for action, target, url, form in steps:
        watch = Watch()
        response = admin_client.post(url, {"description": "", **form})
        assert response.status_code == 302, response.content
        watch.one(action, actor=admin_actor, target=target)

    segment = Segment.objects.get(key="gold-vips")
    watch = Watch()
    form = {"name": "Gold", "description": "", "condition": '{"tag": "gold"}'}
    assert admin_client.post(admin_url(Segment, "change", segment.pk), form).status_code == 302
    watch.one("segment.update", actor=admin_actor, target="gold-vips")


def test_refused_admin_saves_write_nothing(admin_client, vip):
    watch = Watch()
    bad_tag = {"key": "bad", "name": "Bad", "kind": "rule", "condition": '{"bogus": 1}'}
    bad_segment = {"key": "bad", "name": "Bad", "condition": '{"tag": 3}'}
    for url, form in ((admin_url(Tag, "add"), bad_tag), (admin_url(Segment, "add"), bad_segment)):
        response = admin_client.post(url, {"group": "", "description": "", **form})
        assert response.status_code == 200
        assert response.context["adminform"].form.errors
    watch.none()


def test_admin_bulk_tag_actions_write_one_entry_each(admin_client, admin_actor, alice, vip):
    persons = admin_url(Person, "changelist")
    for action, expected in (("add_tag", "tag.bulk_assign"), ("remove_tag", "tag.bulk_remove")):
        form = {
            "action": action,
            ACTION_CHECKBOX_NAME: [alice.pk],
            "select_across": 0,
            "apply": "yes",
            "tag": vip.pk,
            "expires_at": "",
        }
        watch = Watch()
        assert admin_client.post(persons, form).status_code == 302
        watch.one(expected, actor=admin_actor, target=vip.key)


def test_admin_identity_actions_write_one_entry_each(
    admin_client, admin_actor, alice, miniprogram, service_account
):
    record = merged_pair(miniprogram, service_account)
    key, _ = create_api_key(name="backend", scopes=[IDENTITY_READ], actor=SYSTEM)
    steps = [
        ("merge.undo", admin_url(MergeRecord, "changelist"), "undo_merges", record.pk),
        ("person.erase", admin_url(Person, "changelist"), "erase_persons", alice.pk),
        ("api_key.revoke", admin_url(ApiKey, "changelist"), "revoke_keys", key.pk),
    ]
    for action, url, admin_action, pk in steps:
        form = {"action": admin_action, ACTION_CHECKBOX_NAME: [pk], "confirm": "yes"}
        watch = Watch()
        assert admin_client.post(url, form).status_code == 302
        watch.one(action, actor=admin_actor)

    watch = Watch()
    form = {"name": "ops", "scopes": [IDENTITY_READ]}
    assert admin_client.post(admin_url(ApiKey, "add"), form).status_code == 302
    watch.one("api_key.create", actor=admin_actor)


@pytest.mark.parametrize(
    ("form", "action"),
    [
        ({"name": "Renamed", "secret": ""}, "app.update"),
        ({"name": "Shop mini-program", "secret": "new-secret-1"}, "app.credentials"),
    ],
)
def test_admin_app_changes_write_one_entry(admin_client, admin_actor, miniprogram, form, action):
    watch = Watch()
    data = {"kind": miniprogram.kind, "callback_token": "", "aes_key": "", **form}
    assert admin_client.post(admin_url(App, "change", miniprogram.pk), data).status_code == 302
    watch.one(action, actor=admin_actor, target=miniprogram.appid)


def test_admin_app_save_with_name_and_secret_writes_one_entry(admin_client, miniprogram):
    watch = Watch()
    data = {"name": "Renamed", "kind": miniprogram.kind, "secret": "new-secret-1"}
    assert admin_client.post(admin_url(App, "change", miniprogram.pk), data).status_code == 302
    assert len(watch.entries()) == 1


def test_the_audit_admin_is_read_only_and_filterable(admin_client, alice):
    bind_phone(person=alice, phone=PHONE, actor=SYSTEM)
    entry = AuditEntry.objects.get(action="phone.bind")
    changelist = admin_url(AuditEntry, "changelist")

    response = admin_client.get(changelist, {"action": "phone.bind"})
    assert [row.pk for row in response.context["cl"].result_list] == [entry.pk]
    response = admin_client.get(changelist, {"q": alice.public_id})
    assert {row.action for row in response.context["cl"].result_list} == {
        "identity.create",
        "phone.bind",
    }
    page = admin_client.get(admin_url(AuditEntry, "change", entry.pk))
    assert page.status_code == 200
    assert not page.context["has_change_permission"]
    assert admin_client.get(admin_url(AuditEntry, "add")).status_code == 403
    assert admin_client.post(admin_url(AuditEntry, "delete", entry.pk)).status_code == 403
    assert AuditEntry.objects.filter(pk=entry.pk).exists()
