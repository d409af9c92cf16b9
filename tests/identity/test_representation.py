import pytest

from identity.api.representation import IdentityOut, PersonOut, person_representation
from identity.selectors import get_person
from identity.services.resolve import resolve_identity

pytestmark = pytest.mark.django_db


def test_representation_matches_the_documented_serializer(miniprogram, actor):
    """The OpenAPI shape (PersonOut) and the fast builder must not drift apart."""
    person = resolve_identity(app=miniprogram, openid="oMini1", unionid="oU1", actor=actor).person
    body = person_representation(
        get_person(person.public_id), show_phone=False, allowed_app_ids=None
    )
    assert set(body) == set(PersonOut().fields)
    assert set(body["identities"][0]) == set(IdentityOut().fields)
    assert PersonOut(data=body).is_valid(), PersonOut(data=body).errors


def test_answers_and_schema_keep_their_published_key_order(miniprogram, actor):
    """Answers show the sections before the timestamps; the schema lists them after."""
    person = resolve_identity(app=miniprogram, openid="oMini2", actor=actor).person
    body = person_representation(
        get_person(person.public_id), show_phone=False, allowed_app_ids=None
    )
    own = ["id", "unionids", "phone", "identities"]
    assert list(body) == [*own, "tags", "stats", "created_at", "updated_at"]
    assert list(PersonOut().fields) == [*own, "created_at", "updated_at", "tags", "stats"]
    assert list(body["identities"][0]) == ["appid", "app_kind", "openid", "followed", "followed_at"]
