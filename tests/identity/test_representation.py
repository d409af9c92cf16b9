import pytest

from identity.api.representation import person_representation
from identity.api.serializers import IdentityOut, PersonOut
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
