import pytest
from django.db import connection

from identity.exceptions import InvalidInput, MergeConflict, PhoneConflict, UndoConflict
from identity.models import AuditEntry, Identity, MergeRecord, Person, UnionId
from identity.phones import mask_phone, normalize_phone
from identity.selectors import find_by_phone, get_person
from identity.services.merge import merge_persons
from identity.services.phone import bind_phone
from identity.services.resolve import resolve_identity
from identity.services.undo import undo_merge
from tests.factories import PersonFactory

pytestmark = pytest.mark.django_db

PHONE = "13812345678"
E164 = "+8613812345678"


@pytest.fixture
def two_persons(miniprogram, service_account):
    older = PersonFactory(openids={miniprogram: "oMini1"}, unionid="oUnionA")
    younger = PersonFactory(openids={service_account: "oService1"})
    return older, younger


def test_phone_normalisation_and_masking():
    assert normalize_phone("138 1234 5678").e164 == E164
    assert normalize_phone("+86 138-1234-5678").e164 == E164
    assert normalize_phone("+1 650 253 0000").e164 == "+16502530000"
    assert mask_phone(E164) == "+86 138****5678"
    for bad in ["", "abc", "12345", "+86 000"]:
        with pytest.raises(InvalidInput):
            normalize_phone(bad)


def test_free_phone_is_bound_encrypted(two_persons, actor):
    older, _ = two_persons
    bind_phone(person=older, phone=PHONE, actor=actor)
    assert find_by_phone(E164).pk == older.pk
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM identity_person")
        raw_rows = repr(cursor.fetchall())
        cursor.execute("SELECT before::text, after::text FROM identity_auditentry")
        raw_audit = repr(cursor.fetchall())
    for form in (PHONE, E164, "8613812345678"):
        assert form not in raw_rows
        assert form not in raw_audit


def test_shared_phone_merges_into_the_older_person_and_undo_restores_both(two_persons, actor):
    older, younger = two_persons
    bind_phone(person=younger, phone=PHONE, actor=actor)

    survivor = bind_phone(person=older, phone=PHONE, actor=actor)

    assert survivor.pk == older.pk
    assert get_person(younger.public_id).pk == older.pk  # merged-away id reads as survivor
    assert find_by_phone(E164).pk == older.pk
    record = MergeRecord.objects.get()
    assert record.reason == "phone"

    undo_merge(record=record, actor=actor)

    assert get_person(younger.public_id).pk == younger.pk
    assert set(Identity.objects.filter(person=older).values_list("openid", flat=True)) == {"oMini1"}
    assert set(Identity.objects.filter(person=younger).values_list("openid", flat=True)) == {
        "oService1"
    }
    assert find_by_phone(E164).pk == younger.pk
    assert UnionId.objects.get().person_id == older.pk
    with pytest.raises(UndoConflict):
        undo_merge(record=MergeRecord.objects.get(), actor=actor)


def test_phone_of_a_person_with_another_unionid_is_a_conflict(miniprogram, service_account, actor):
    first = resolve_identity(
        app=miniprogram, openid="oMini1", unionid="oUnionA", actor=actor
    ).person
    second = resolve_identity(
        app=service_account, openid="oService1", unionid="oUnionB", actor=actor
    ).person
    bind_phone(person=second, phone=PHONE, actor=actor)
    audits = AuditEntry.objects.count()

    with pytest.raises(PhoneConflict) as error:
        bind_phone(person=first, phone=PHONE, actor=actor)

    assert error.value.details["unionid_platforms"] == ["wechat"]
    assert find_by_phone(E164).pk == second.pk
    assert Person.objects.get(pk=first.pk).phone_index is None
    assert not MergeRecord.objects.exists()
    assert AuditEntry.objects.count() == audits


def test_move_takes_the_number_without_merging(miniprogram, service_account, actor):
    first = resolve_identity(
        app=miniprogram, openid="oMini1", unionid="oUnionA", actor=actor
    ).person
    second = resolve_identity(
        app=service_account, openid="oService1", unionid="oUnionB", actor=actor
    ).person
    bind_phone(person=second, phone=PHONE, actor=actor)

    bind_phone(person=first, phone=PHONE, on_conflict="move", actor=actor)

    assert find_by_phone(E164).pk == first.pk
    assert Person.objects.get(pk=second.pk).phone_index is None
    assert not MergeRecord.objects.exists()
    assert AuditEntry.objects.filter(action="phone.move").count() == 1


def test_fail_never_merges(two_persons, actor):
    older, younger = two_persons
    bind_phone(person=younger, phone=PHONE, actor=actor)
    with pytest.raises(PhoneConflict):
        bind_phone(person=older, phone=PHONE, on_conflict="fail", actor=actor)
    assert not MergeRecord.objects.exists()


def test_binding_a_new_number_replaces_the_old_one(two_persons, actor):
    older, _ = two_persons
    bind_phone(person=older, phone=PHONE, actor=actor)
    bind_phone(person=older, phone="13900001111", actor=actor)
    assert find_by_phone(E164) is None
    assert find_by_phone("+8613900001111").pk == older.pk


def test_merge_refuses_two_openids_of_one_app(miniprogram, actor):
    first = resolve_identity(app=miniprogram, openid="oMini1", actor=actor).person
    second = resolve_identity(app=miniprogram, openid="oMini2", actor=actor).person
    with pytest.raises(MergeConflict) as error:
        merge_persons(first=first, second=second, reason="manual", actor=actor)
    assert error.value.details["apps"] == [miniprogram.appid]
    assert Person.objects.live().count() == 2


def test_chained_merges_keep_every_old_id_working_and_undo_in_reverse(
    miniprogram, service_account, h5, actor
):
    a = resolve_identity(app=miniprogram, openid="oA", actor=actor).person
    b = resolve_identity(app=service_account, openid="oB", actor=actor).person
    c = resolve_identity(app=h5, openid="oC", actor=actor).person
    first = merge_persons(first=b, second=c, reason="manual", actor=actor)  # c -> b
    second = merge_persons(first=a, second=b, reason="manual", actor=actor)  # b -> a
    assert {get_person(p.public_id).pk for p in (a, b, c)} == {a.pk}

    with pytest.raises(UndoConflict) as error:
        undo_merge(record=first, actor=actor)
    assert error.value.details["undo_first"] == second.pk

    undo_merge(record=second, actor=actor)
    assert get_person(c.public_id).pk == b.pk
    undo_merge(record=first, actor=actor)
    assert [get_person(p.public_id).pk for p in (a, b, c)] == [a.pk, b.pk, c.pk]
    assert Identity.objects.get(openid="oC").person_id == c.pk
