"""Every endpoint: 401 without a key, 403 without its scope or app, 2xx with the right key."""

import pytest
from rest_framework.test import APIClient

from identity.models import ApiKey
from identity.scopes import ALL_SCOPES, IDENTITY_READ, IDENTITY_WRITE, PERSONS_ERASE
from identity.services.resolve import resolve_identity

pytestmark = pytest.mark.django_db


@pytest.fixture
def person(miniprogram, actor):
    return resolve_identity(app=miniprogram, openid="oMini1", unionid="oUnion1", actor=actor).person


def endpoints(person, app):
    """(method, path, body, scope, expected success status) for every endpoint."""
    return [
        (
            "post",
            "/api/v1/identities/resolve",
            {"appid": app.appid, "openid": "oNew"},
            IDENTITY_WRITE,
            200,
        ),
        ("get", f"/api/v1/persons/{person.public_id}", None, IDENTITY_READ, 200),
        (
            "get",
            f"/api/v1/persons/lookup?appid={app.appid}&openid=oMini1",
            None,
            IDENTITY_READ,
            200,
        ),
        (
            "post",
            "/api/v1/persons/lookup",
            {"appid": app.appid, "openids": ["oMini1"]},
            IDENTITY_READ,
            200,
        ),
        (
            "put",
            f"/api/v1/persons/{person.public_id}/phone",
            {"phone": "13812345678"},
            IDENTITY_WRITE,
            200,
        ),
        ("delete", f"/api/v1/persons/{person.public_id}", None, PERSONS_ERASE, 204),
    ]


def call(client, method, path, body):
    return (
        getattr(client, method)(path, body, format="json")
        if body
        else getattr(client, method)(path)
    )


def all_cases():
    return range(6)


@pytest.mark.parametrize("case", all_cases())
def test_without_a_key_is_401(person, miniprogram, case):
    method, path, body, _, _ = endpoints(person, miniprogram)[case]
    response = call(APIClient(), method, path, body)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


@pytest.mark.parametrize("case", all_cases())
def test_with_a_wrong_or_revoked_key_is_401(person, miniprogram, make_client, case):
    method, path, body, _, _ = endpoints(person, miniprogram)[case]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer uik_00000000_not-a-real-key")
    assert call(client, method, path, body).status_code == 401
    revoked = make_client(scopes=ALL_SCOPES, name="revoked")
    ApiKey.objects.filter(name="revoked").update(revoked_at="2026-01-01T00:00:00Z")
    assert call(revoked, method, path, body).status_code == 401


@pytest.mark.parametrize("case", all_cases())
def test_without_the_scope_is_403(person, miniprogram, make_client, case):
    method, path, body, scope, _ = endpoints(person, miniprogram)[case]
    client = make_client(scopes=[s for s in ALL_SCOPES if s != scope])
    response = call(client, method, path, body)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "scope_missing"


@pytest.mark.parametrize("case", all_cases())
def test_with_a_key_for_another_app_is_403_or_404(person, miniprogram, h5, make_client, case):
    method, path, body, _, _ = endpoints(person, miniprogram)[case]
    client = make_client(scopes=ALL_SCOPES, apps=[h5.appid])
    response = call(client, method, path, body)
    if response.status_code == 200 and "results" in response.json():
        assert response.json()["results"][0]["person"] is None  # batch: invisible, not an error
    else:
        assert response.status_code in (403, 404)
        assert response.json()["error"]["code"] in ("app_forbidden", "person_not_found")


@pytest.mark.parametrize("case", all_cases())
def test_with_the_right_key_succeeds(person, miniprogram, make_client, case):
    method, path, body, scope, expected = endpoints(person, miniprogram)[case]
    client = make_client(scopes=[scope], apps=[miniprogram.appid])
    assert call(client, method, path, body).status_code == expected


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
    assert response.json() == {"status": "ok", "database": "ok"}


def test_schema_and_docs_are_served(client):
    schema = client.get("/api/v1/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/persons/lookup" in schema.content
    assert client.get("/api/v1/docs/").status_code == 200
