"""The factories make rows the product takes for its own, so that tests built on them mean what
tests built on the services mean: the graph checks pass, a phone reads back and is found, a key
authenticates with its scopes and apps, conditions validate."""

import pytest
from rest_framework.test import APIClient

from config.api.scopes import IDENTITY_READ
from identity.integrity import run_checks
from identity.models import AppKind
from profiles.conditions import validate
from tests.factories import (
    ApiKeyFactory,
    AppFactory,
    IdentityFactory,
    PersonFactory,
    SegmentFactory,
    ServiceAccountFactory,
    TagFactory,
)

pytestmark = pytest.mark.django_db


def test_a_person_with_every_identifier_passes_the_graph_checks(miniprogram, service_account):
    PersonFactory(
        openids={miniprogram: "oFactoryMini", service_account: "oFactorySvc"},
        unionid="uFactory",
        phone="138 1234 5678",
    )
    IdentityFactory(app=miniprogram)  # and a person of its own

    assert set(run_checks().values()) == {0}


def test_a_phone_is_stored_as_binding_stores_it(api, miniprogram):
    person = PersonFactory(openids={miniprogram: "oFactoryMini"}, phone="138 1234 5678")

    response = api.get("/api/v1/persons/lookup", {"phone": "+86 138-1234-5678"})

    assert person.phone_e164 == "+8613812345678"
    assert response.status_code == 200
    assert response.json()["id"] == person.public_id


def test_a_key_with_plaintext_authenticates_with_its_scopes_and_apps(miniprogram):
    key, raw = ApiKeyFactory.with_plaintext(scopes=[IDENTITY_READ], apps=[miniprogram.appid])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")

    assert client.get("/api/v1/tags").status_code == 200
    assert client.get("/api/v1/segments").status_code == 403  # segments:read not granted
    assert list(key.apps.all()) == [miniprogram]


def test_a_model_key_holds_what_it_was_given(miniprogram):
    key = ApiKeyFactory(scopes=[IDENTITY_READ], apps=[miniprogram])

    assert key.is_active
    assert key.scopes == [IDENTITY_READ]
    assert list(key.apps.all()) == [miniprogram]


def test_apps_by_kind_and_an_appid_named_twice():
    assert ServiceAccountFactory().kind == AppKind.SERVICE_ACCOUNT
    assert AppFactory(appid="wxFactoryTwice").pk == AppFactory(appid="wxFactoryTwice").pk


def test_default_conditions_validate():
    validate(TagFactory(rule=True).condition)
    validate(SegmentFactory().condition)
