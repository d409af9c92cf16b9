import pytest

from identity.models import AuditEntry, Identity, Person, UnionId
from identity.services.erase import erase_person
from identity.services.merge import merge_persons
from identity.services.phone import bind_phone
from identity.services.resolve import resolve_identity

pytestmark = pytest.mark.django_db


def test_erasure_removes_identifiers_and_phone_and_keeps_the_row(person_with_phone, actor):
    erase_person(person=person_with_phone, actor=actor)
    erased = Person.objects.get(pk=person_with_phone.pk)
    assert erased.erased_at is not None
    assert erased.phone_encrypted is None
    assert erased.phone_index is None
    assert not Identity.objects.exists()
    assert not UnionId.objects.exists()
    assert AuditEntry.objects.filter(action="person.erase").count() == 1


def test_erasure_is_idempotent(person_with_phone, actor):
    erase_person(person=person_with_phone, actor=actor)
    erase_person(person=person_with_phone, actor=actor)
    assert AuditEntry.objects.filter(action="person.erase").count() == 1


def test_erased_identifiers_resolve_to_a_new_person(person_with_phone, miniprogram, actor):
    erase_person(person=person_with_phone, actor=actor)
    again = resolve_identity(app=miniprogram, openid="oMini1", unionid="oUnion1", actor=actor)
    assert again.created is True
    assert again.person.pk != person_with_phone.pk
    assert bind_phone(person=again.person, phone="13812345678", actor=actor).pk == again.person.pk


def test_erasing_a_merged_away_id_erases_the_survivor(miniprogram, h5, actor):
    older = resolve_identity(app=miniprogram, openid="oA", actor=actor).person
    younger = resolve_identity(app=h5, openid="oB", actor=actor).person
    merge_persons(first=older, second=younger, reason="manual", actor=actor)
    erase_person(person=younger, actor=actor)
    assert Person.objects.get(pk=older.pk).erased_at is not None
    assert not Identity.objects.exists()


def test_erase_over_api(api, person_with_phone):
    url = f"/api/v1/persons/{person_with_phone.public_id}"
    assert api.delete(url).status_code == 204
    assert api.delete(url).status_code == 204
    assert api.get(url).status_code == 404
    assert api.get("/api/v1/persons/lookup?unionid=oUnion1").status_code == 404
