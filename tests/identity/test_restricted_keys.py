"""A key restricted to apps never reaches into the others (DESIGN.md, REST API).

It never merges in, moves a phone from, or links to a person it could not see before (only a
link the platform vouches for may), its conflict answers name no other app, and without
`phone:read` it cannot confirm a phone number by lookups.
"""

import json

import pytest

from config.api.scopes import IDENTITY_READ, IDENTITY_WRITE, PHONE_READ
from identity.models import Identity, MergeRecord, Person
from identity.phones import normalize_phone
from identity.services.resolve import resolve_identity
from tests.factories import PersonFactory

PHONE = "13812345678"
OTHER_PHONE = "13987654321"
WRITE = (IDENTITY_READ, IDENTITY_WRITE, PHONE_READ)


@pytest.fixture
def own_key(make_client, miniprogram):
    """A backend of the mini-program only."""
    return make_client(scopes=WRITE, apps=[miniprogram.appid])


def person_in(app, openid, *, unionid=None, phone=None) -> Person:
    return PersonFactory(openids={app: openid}, unionid=unionid, phone=phone)


def phone_of(person: Person) -> str | None:
    person.refresh_from_db()
    return person.phone_index


def test_a_phone_held_by_a_person_of_another_app_is_not_merged_in(
    own_key, miniprogram, service_account, actor
):
    mine = person_in(miniprogram, "oMine")
    theirs = person_in(service_account, "oTheirs", phone=PHONE)

    response = own_key.put(
        f"/api/v1/persons/{mine.public_id}/phone", {"phone": PHONE}, format="json"
    )

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "phone_conflict"
    assert service_account.appid not in response.content.decode()
    assert not MergeRecord.objects.exists()
    assert phone_of(theirs) == normalize_phone(PHONE).index
    assert phone_of(mine) is None


@pytest.mark.parametrize("on_conflict", ["move", "fail", "merge"])
def test_no_conflict_policy_takes_a_phone_from_a_person_the_key_cannot_see(
    own_key, miniprogram, service_account, actor, on_conflict
):
    mine = person_in(miniprogram, "oMine")
    theirs = person_in(service_account, "oTheirs", phone=PHONE)

    response = own_key.put(
        f"/api/v1/persons/{mine.public_id}/phone",
        {"phone": PHONE, "on_conflict": on_conflict},
        format="json",
    )

    assert response.status_code == 409
    assert phone_of(theirs) == normalize_phone(PHONE).index
    assert not MergeRecord.objects.exists()


def test_a_phone_held_by_a_person_the_key_sees_merges_as_before(
    make_client, miniprogram, service_account, actor
):
    key = make_client(scopes=WRITE, apps=[miniprogram.appid, service_account.appid])
    mine = person_in(miniprogram, "oMine")
    person_in(service_account, "oTheirs", phone=PHONE)

    response = key.put(f"/api/v1/persons/{mine.public_id}/phone", {"phone": PHONE}, format="json")

    assert response.status_code == 200
    assert {i["appid"] for i in response.json()["identities"]} == {
        miniprogram.appid,
        service_account.appid,
    }
    assert MergeRecord.objects.count() == 1


def test_an_unrestricted_key_still_merges_across_apps(api, miniprogram, service_account, actor):
    mine = person_in(miniprogram, "oMine")
    person_in(service_account, "oTheirs", phone=PHONE)

    response = api.put(f"/api/v1/persons/{mine.public_id}/phone", {"phone": PHONE}, format="json")

    assert response.status_code == 200
    assert MergeRecord.objects.count() == 1


def test_resolving_with_the_unionid_of_a_person_of_another_app_links_nothing(
    own_key, miniprogram, service_account, actor
):
    theirs = person_in(service_account, "oTheirs", unionid="uTheirs", phone=PHONE)

    response = own_key.post(
        "/api/v1/identities/resolve",
        {"appid": miniprogram.appid, "openid": "oNew", "unionid": "uTheirs"},
        format="json",
    )

    assert response.status_code == 409
    body = response.json()
    assert body["error"]["code"] == "unverified_link"
    assert set(body["error"]["details"]) == {"unionid"}
    assert PHONE[-4:] not in response.content.decode()
    assert not Identity.objects.filter(openid="oNew").exists()
    assert list(theirs.identities.values_list("openid", flat=True)) == ["oTheirs"]


def test_a_known_openid_is_not_merged_with_the_person_of_an_unseen_unionid(
    own_key, miniprogram, service_account, actor
):
    mine = person_in(miniprogram, "oMine")
    person_in(service_account, "oTheirs", unionid="uTheirs")

    response = own_key.post(
        "/api/v1/identities/resolve",
        {"appid": miniprogram.appid, "openid": "oMine", "unionid": "uTheirs"},
        format="json",
    )

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "unverified_link"
    assert not MergeRecord.objects.exists()
    assert not mine.unionids.exists()


def test_a_unionid_of_a_person_the_key_sees_links_a_new_openid(make_client, miniprogram, h5, actor):
    key = make_client(scopes=WRITE, apps=[miniprogram.appid, h5.appid])
    mine = person_in(miniprogram, "oMine", unionid="uMine")

    response = key.post(
        "/api/v1/identities/resolve",
        {"appid": h5.appid, "openid": "oPage", "unionid": "uMine"},
        format="json",
    )

    assert response.status_code == 200
    assert response.json()["person"]["id"] == mine.public_id


def test_an_unrestricted_key_links_any_unionid(api, miniprogram, service_account, actor):
    theirs = person_in(service_account, "oTheirs", unionid="uTheirs")

    response = api.post(
        "/api/v1/identities/resolve",
        {"appid": miniprogram.appid, "openid": "oNew", "unionid": "uTheirs"},
        format="json",
    )

    assert response.status_code == 200
    assert response.json()["person"]["id"] == theirs.public_id


def test_conflict_details_name_only_the_keys_own_apps(
    make_client, miniprogram, service_account, h5, actor
):
    """Both persons hold an openid of the service account, which the key cannot see."""
    key = make_client(scopes=WRITE, apps=[miniprogram.appid, h5.appid])
    mine = person_in(miniprogram, "oMine", phone=None)
    resolve_identity(app=service_account, openid="oSvcMine", unionid="uMine", actor=actor)
    resolve_identity(app=miniprogram, openid="oMine", unionid="uMine", actor=actor)
    theirs = person_in(h5, "oPage", phone=PHONE)
    resolve_identity(app=service_account, openid="oSvcTheirs", unionid="uTheirs", actor=actor)
    resolve_identity(app=h5, openid="oPage", unionid="uTheirs", actor=actor)

    response = key.put(f"/api/v1/persons/{mine.public_id}/phone", {"phone": PHONE}, format="json")

    assert response.status_code == 409
    details = response.json()["error"]["details"]
    assert service_account.appid not in json.dumps(details)
    assert "apps" not in details
    assert "other_apps" in details
    assert phone_of(theirs) == normalize_phone(PHONE).index


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("get", "/api/v1/persons/lookup?phone=13812345678", None),
        ("post", "/api/v1/persons/lookup", {"phones": ["13812345678", "13812345679"]}),
    ],
)
def test_lookups_by_phone_need_phone_read(make_client, miniprogram, actor, method, path, body):
    person_in(miniprogram, "oMine", phone=PHONE)
    masked_only = make_client(scopes=(IDENTITY_READ,))
    full = make_client(scopes=(IDENTITY_READ, PHONE_READ))

    refused = getattr(masked_only, method)(path, body, format="json")
    allowed = getattr(full, method)(path, body, format="json")

    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "scope_missing"
    assert PHONE_READ in refused.json()["error"]["message"]
    assert allowed.status_code == 200


def test_a_masked_number_cannot_be_completed_by_guessing(make_client, miniprogram, actor):
    """The mask keeps 7 of 11 digits; batch lookups of the 10,000 candidates are refused."""
    person_in(miniprogram, "oMine", phone=PHONE)
    reader = make_client(scopes=(IDENTITY_READ,))
    masked = reader.get("/api/v1/persons/lookup", {"appid": miniprogram.appid, "openid": "oMine"})
    assert masked.json()["phone"] == "+86 138****5678"
    candidates = [f"138{n:04d}5678" for n in range(1000)]

    response = reader.post("/api/v1/persons/lookup", {"phones": candidates}, format="json")

    assert response.status_code == 403
    assert OTHER_PHONE not in response.content.decode()


def test_binding_guesses_cannot_complete_a_masked_number(make_client, miniprogram, actor):
    """Whether a bind merges, moves or conflicts tells whether the number is held: binding a
    number needs phone:read, so that guesses bound to a throwaway person reveal nothing."""
    person_in(miniprogram, "oTarget", phone=PHONE)
    dummy = person_in(miniprogram, "oDummy")
    writer = make_client(scopes=(IDENTITY_READ, IDENTITY_WRITE))

    answers = {
        writer.put(
            f"/api/v1/persons/{dummy.public_id}/phone",
            {"phone": candidate, "on_conflict": "fail"},
            format="json",
        ).status_code
        for candidate in (PHONE, OTHER_PHONE)
    }

    assert answers == {403}
    assert phone_of(dummy) is None
