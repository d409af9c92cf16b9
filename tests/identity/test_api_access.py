"""API access beyond the generated matrix (tests/test_authorization_matrix.py): unknown keys,
what a restricted key sees, and the endpoints that need no key."""

import pytest
from rest_framework.test import APIClient

from config.api.scopes import IDENTITY_READ
from identity.services.resolve import resolve_identity

pytestmark = pytest.mark.django_db


def test_an_unknown_key_is_401(miniprogram, actor):
    person = resolve_identity(app=miniprogram, openid="oMini1", actor=actor).person
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer uik_00000000_not-a-real-key")
    response = client.get(f"/api/v1/persons/{person.public_id}")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"


def test_restricted_key_sees_only_identities_of_its_apps(
    miniprogram, service_account, make_client, actor
):
    person = resolve_identity(app=miniprogram, openid="oMini1", unionid="oU", actor=actor).person
    resolve_identity(app=service_account, openid="oSvc1", unionid="oU", actor=actor)
    client = make_client(scopes=[IDENTITY_READ], apps=[service_account.appid])
    body = client.get(f"/api/v1/persons/{person.public_id}").json()
    assert [identity["appid"] for identity in body["identities"]] == [service_account.appid]


def test_healthz_needs_no_key(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["database"]) == ("ok", "ok")
    assert body["worker"] == "down"  # no worker runs in the suite; the web answers 200 anyway
    assert set(body["queue"]) == {
        "depth",
        "oldest_seconds",
        "pending_events",
        "oldest_pending_seconds",
    }


def test_schema_and_docs_are_served(client):
    schema = client.get("/api/v1/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/persons/lookup" in schema.content
    assert client.get("/api/v1/docs/").status_code == 200
