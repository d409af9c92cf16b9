"""Erasure leaves nothing personal behind, and a key restricted to apps erases only its part.

The person of these tests has everything that can hang on a person: openids in three apps (a
service account it follows among them), a unionid, a phone bound twice (the second bind merged
in the person holding that number), manual and rule tags, events with channels (some pruned
into rollups), stats. The tables are read directly after the erasure.
"""

import json
from io import StringIO

import pytest
from django.core.management import call_command

from config.api.scopes import IDENTITY_READ, PERSONS_ERASE
from identity.exceptions import UndoConflict
from identity.integrity import run_checks
from identity.models import AuditEntry, Identity, MergeRecord, Person, UnionId
from identity.phones import mask_phone
from identity.services.phone import bind_phone
from identity.services.resolve import resolve_identity
from identity.services.undo import undo_merge
from profiles.conditions import matching_persons
from profiles.models import Event, EventRollup, PersonStats, Tag, TagAssignment, TagKind
from profiles.services.definitions import save_tag
from profiles.services.ingest import ingest_events
from profiles.services.prune import prune_events
from profiles.services.rules import refresh_rule_tag, refresh_rule_tags
from profiles.services.tags import assign_tags
from tests.clock import ago, iso_ago

pytestmark = pytest.mark.django_db

FIRST_PHONE, SECOND_PHONE = "+8613812345678", "+8613987654321"
MASKED = (mask_phone(FIRST_PHONE), mask_phone(SECOND_PHONE))
MINI_OPENID, SVC_OPENID, H5_OPENID, UNIONID = "oMiniErased", "oSvcErased", "oH5Erased", "uErased"
MINI_CHANNEL, SVC_CHANNEL, OLD_CHANNEL = "ad-zhang-san", "qr-shop-42", "poster-li-si"
PERSONAL_VALUES = (
    *(MINI_OPENID, SVC_OPENID, H5_OPENID, UNIONID),
    *MASKED,
    *(MINI_CHANNEL, SVC_CHANNEL, OLD_CHANNEL),
)


@pytest.fixture
def followers_tag(service_account, actor):
    tag = Tag(key="followers", name="Followers", kind=TagKind.RULE)
    tag.condition = {"app": service_account.appid}
    return save_tag(tag=tag, actor=actor)


def _events(actor, *events):
    body = [
        {"event_id": f"e-{index}", "type": "view", "occurred_at": iso_ago(hours=1), **event}
        for index, event in enumerate(events)
    ]
    assert ingest_events(events=body, actor=actor).accepted == len(body)


@pytest.fixture
def full_person(miniprogram, service_account, h5, followers_tag, actor):
    """A person of three apps holding every kind of data, with a merge behind it."""
    mini, svc, web = miniprogram, service_account, h5
    person = resolve_identity(app=mini, openid=MINI_OPENID, unionid=UNIONID, actor=actor).person
    resolve_identity(app=svc, openid=SVC_OPENID, unionid=UNIONID, actor=actor)
    holder = resolve_identity(app=web, openid=H5_OPENID, actor=actor).person
    bind_phone(person=person, phone=FIRST_PHONE, actor=actor)
    bind_phone(person=holder, phone=SECOND_PHONE, actor=actor)
    assign_tags(person=person, keys=["vip"], actor=actor)
    person = bind_phone(person=person, phone=SECOND_PHONE, actor=actor)  # merges the holder in
    _events(
        actor,
        {"appid": mini.appid, "openid": MINI_OPENID, "occurred_at": iso_ago(days=90)}
        | {"channel": OLD_CHANNEL},
        {"appid": mini.appid, "openid": MINI_OPENID, "type": "pay", "amount": "30.00"}
        | {"channel": MINI_CHANNEL},
        {"appid": svc.appid, "openid": SVC_OPENID, "type": "subscribe", "channel": SVC_CHANNEL},
        {"appid": svc.appid, "openid": SVC_OPENID, "occurred_at": iso_ago(days=80)},
        {"appid": web.appid, "openid": H5_OPENID, "properties": {"note": "x"}},
    )
    prune_events(cutoff=ago(days=30))  # the two old events become rollups
    refresh_rule_tag(tag=followers_tag, actor=actor)

    assert Identity.objects.get(openid=SVC_OPENID).followed is True
    sources = set(TagAssignment.objects.filter(person=person).values_list("source", flat=True))
    assert sources == {"api", "rule"}
    assert EventRollup.objects.filter(person=person, first_channel=OLD_CHANNEL).exists()
    assert PersonStats.objects.get(person=person).first_channel == OLD_CHANNEL
    return person


def _history() -> list[tuple]:
    return list(
        AuditEntry.objects.order_by("pk").values_list(
            "pk", "action", "actor_type", "actor", "created_at", "person_id", "target"
        )
    )


def _quoted(entry: AuditEntry) -> list[str]:
    text = json.dumps([entry.before, entry.after])
    return [value for value in PERSONAL_VALUES if value in text]


def test_erasure_removes_tags_channels_and_every_personal_value_from_the_history(api, full_person):
    history = _history()
    tags = TagAssignment.objects.filter(person=full_person).count()
    assert any(_quoted(entry) for entry in AuditEntry.objects.all())

    assert api.delete(f"/api/v1/persons/{full_person.public_id}").status_code == 204

    assert not TagAssignment.objects.filter(person=full_person).exists()
    events = Event.objects.filter(person=full_person)
    assert events.count() == 3  # anonymous aggregates stay
    assert not events.exclude(channel="").exists()
    assert not events.exclude(properties={}).exists()
    rollups = EventRollup.objects.filter(person=full_person)
    assert set(rollups.values_list("first_channel", flat=True)) == {""}
    stats = PersonStats.objects.get(person=full_person)
    assert (stats.first_channel, stats.first_channel_at, stats.pay_count) == ("", None, 1)
    # The history still says what happened, by whom and when, but no longer to whom.
    assert _history()[: len(history)] == history
    assert not [
        (entry.action, _quoted(entry)) for entry in AuditEntry.objects.all() if _quoted(entry)
    ]
    bind = AuditEntry.objects.filter(action="phone.bind", person=full_person).first()
    assert bind.after["phone"] == "[erased]"
    merge = AuditEntry.objects.get(action="person.merge")
    assert merge.after["phone_replaced"] == "[erased]"
    assert merge.before["loser"]["phone"] == "[erased]"
    assert merge.after["merge_record"] == MergeRecord.objects.get().pk
    erasure = AuditEntry.objects.get(action="person.erase")
    assert erasure.before == {"identities": 3, "unionids": 1, "phone": True}
    assert erasure.after["tags"] == {"assignments": tags}
    assert erasure.after["audit_entries"] > 0


def test_merge_records_lose_the_phone_fingerprint_and_cannot_be_undone(api, full_person, actor):
    record = MergeRecord.objects.get(survivor=full_person)
    fingerprint = record.moved["phone"]
    assert isinstance(fingerprint, str)
    assert record.moved["tags"]["survivor"]

    assert api.delete(f"/api/v1/persons/{full_person.public_id}").status_code == 204

    record.refresh_from_db()
    assert record.moved["phone"] is True
    assert fingerprint not in json.dumps(record.moved)
    assert record.moved["tags"] == {"survivor": [], "loser": [], "erased": True}
    with pytest.raises(UndoConflict):
        undo_merge(record=record, actor=actor)
    record.refresh_from_db()
    assert record.undone_at is None
    assert Person.objects.get(pk=record.loser_id).merged_into_id == full_person.pk


def test_the_graph_check_passes_after_an_erasure_and_rules_do_not_tag_the_erased_again(
    api, full_person, followers_tag, actor
):
    assert api.delete(f"/api/v1/persons/{full_person.public_id}").status_code == 204
    refresh_rule_tags(actor=actor)

    out = StringIO()
    call_command("check_identity_graph", stdout=out, no_color=True)

    assert f"All {len(run_checks())} checks passed." in out.getvalue(), out.getvalue()
    assert set(run_checks().values()) == {0}
    assert not TagAssignment.objects.filter(person=full_person).exists()
    assert full_person.pk not in set(
        matching_persons(followers_tag.condition).values_list("pk", flat=True)
    )
    # A repeat changes nothing and writes nothing.
    entries = AuditEntry.objects.count()
    assert api.delete(f"/api/v1/persons/{full_person.public_id}").status_code == 204
    assert AuditEntry.objects.count() == entries


def test_entries_of_an_undone_merge_lose_the_erased_persons_values(api, miniprogram, h5, actor):
    """The undo entry belongs to the other person of the merge: it is found by its record."""
    erased = resolve_identity(app=miniprogram, openid="oGone", actor=actor).person
    other = resolve_identity(app=h5, openid="oStays", actor=actor).person
    bind_phone(person=erased, phone=FIRST_PHONE, actor=actor)
    bind_phone(person=other, phone=FIRST_PHONE, actor=actor)  # merges the two
    record = MergeRecord.objects.get(survivor=erased)
    undo_merge(record=record, actor=actor)
    undo = AuditEntry.objects.get(action="merge.undo")
    assert undo.person_id == other.pk
    assert MASKED[0] in json.dumps(undo.after)

    assert api.delete(f"/api/v1/persons/{erased.public_id}").status_code == 204

    undo.refresh_from_db()
    assert MASKED[0] not in json.dumps([undo.before, undo.after])
    assert undo.after["survivor"]["phone"] == "[erased]"
    assert undo.after["merge_record"] == record.pk
    assert Person.objects.get(pk=other.pk).erased_at is None


@pytest.fixture
def mini_key(make_client, miniprogram):
    return make_client(scopes=[IDENTITY_READ, PERSONS_ERASE], apps=[miniprogram.appid], name="mini")


def test_a_restricted_key_erases_only_its_apps_part_of_a_shared_person(
    mini_key, api, full_person, miniprogram, service_account, h5, django_capture_on_commit_callbacks
):
    url = f"/api/v1/persons/{full_person.public_id}"
    with django_capture_on_commit_callbacks(execute=True):
        assert mini_key.delete(url).status_code == 204

    full_person.refresh_from_db()
    assert full_person.erased_at is None
    assert full_person.phone_e164 == SECOND_PHONE
    assert UnionId.objects.filter(person=full_person, unionid=UNIONID).exists()
    held = Identity.objects.filter(person=full_person)
    assert sorted(held.values_list("app_id", flat=True)) == sorted([service_account.pk, h5.pk])
    assert Identity.objects.get(openid=SVC_OPENID).followed is True
    assert not Event.objects.filter(app=miniprogram).exists()
    assert not EventRollup.objects.filter(app=miniprogram).exists()
    assert Event.objects.filter(person=full_person).count() == 2
    assert EventRollup.objects.filter(person=full_person, app=service_account).count() == 1
    stats = PersonStats.objects.get(person=full_person)
    assert (stats.event_count, stats.pay_count, stats.first_channel) == (3, 0, SVC_CHANNEL)
    # Shared tags stay; the rule tag follows what remains (still a follower).
    keys = set(TagAssignment.objects.filter(person=full_person).values_list("tag__key", flat=True))
    assert {"vip", "followers"} <= keys
    assert set(run_checks().values()) == {0}
    entry = AuditEntry.objects.get(action="person.erase_apps")
    assert entry.after == {"apps": [miniprogram.appid]}
    assert entry.before["identities"] == 1
    assert entry.before["events"] == {"events_deleted": 1, "rollups_deleted": 1}
    assert not _quoted(entry)

    # The other apps still see the person; the key no longer does, yet a repeat answers 204.
    body = api.get(url).json()
    assert {row["appid"] for row in body["identities"]} == {service_account.appid, h5.appid}
    assert mini_key.get(url).status_code == 404
    entries = AuditEntry.objects.count()
    assert mini_key.delete(url).status_code == 204
    assert AuditEntry.objects.count() == entries
    assert Identity.objects.filter(person=full_person).count() == 2


def test_a_restricted_key_drops_rule_tags_that_depended_on_its_openids(
    make_client, full_person, service_account, django_capture_on_commit_callbacks
):
    svc_key = make_client(scopes=[PERSONS_ERASE], apps=[service_account.appid], name="svc")
    with django_capture_on_commit_callbacks(execute=True):
        assert svc_key.delete(f"/api/v1/persons/{full_person.public_id}").status_code == 204

    assert not Identity.objects.filter(app=service_account).exists()
    assert Person.objects.get(pk=full_person.pk).erased_at is None
    keys = set(TagAssignment.objects.filter(person=full_person).values_list("tag__key", flat=True))
    assert "vip" in keys
    assert "followers" not in keys


def test_a_restricted_key_erases_a_person_only_its_apps_hold_entirely(
    mini_key, make_client, miniprogram, h5, actor
):
    alone = resolve_identity(app=miniprogram, openid="oAlone", unionid="uAlone", actor=actor).person
    bind_phone(person=alone, phone=FIRST_PHONE, actor=actor)
    assign_tags(person=alone, keys=["vip"], actor=actor)
    _events(actor, {"appid": miniprogram.appid, "openid": "oAlone", "channel": MINI_CHANNEL})
    url = f"/api/v1/persons/{alone.public_id}"

    assert mini_key.delete(url).status_code == 204

    alone.refresh_from_db()
    assert alone.erased_at is not None
    assert alone.phone_index is None
    assert not Identity.objects.filter(person=alone).exists()
    assert not UnionId.objects.filter(person=alone).exists()
    assert not TagAssignment.objects.filter(person=alone).exists()
    assert Event.objects.get(person=alone).channel == ""
    entry = AuditEntry.objects.get(action="person.erase")
    assert entry.after["apps"] == [miniprogram.appid]
    assert not AuditEntry.objects.filter(action="person.erase_apps").exists()
    assert not [
        (entry.action, _quoted(entry)) for entry in AuditEntry.objects.all() if _quoted(entry)
    ]
    assert set(run_checks().values()) == {0}

    entries = AuditEntry.objects.count()
    assert mini_key.delete(url).status_code == 204
    assert AuditEntry.objects.count() == entries
    # Only the key that erased the person gets its 204 again: other keys learn nothing.
    h5_key = make_client(scopes=[PERSONS_ERASE], apps=[h5.appid], name="h5")
    assert h5_key.delete(url).status_code == 404
    stranger = resolve_identity(app=miniprogram, openid="oStranger", actor=actor).person
    stranger_url = f"/api/v1/persons/{stranger.public_id}"
    assert make_client(name="all").delete(stranger_url).status_code == 204
    assert mini_key.delete(stranger_url).status_code == 404
