import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from config.api.scopes import IDENTITY_READ
from identity.models import MergeRecord, Person
from identity.services.phone import bind_phone
from identity.services.resolve import resolve_identity

pytestmark = pytest.mark.django_db

UNIONID = "o6_bmasdasdsad6_2sgVt7hMZOPfL"
PHONE = "13812345678"


def resolve(api, app, openid, unionid=None):
    body = {"appid": app.appid, "openid": openid}
    if unionid:
        body["unionid"] = unionid
    return api.post("/api/v1/identities/resolve", body, format="json")


def test_three_apps_one_person_found_by_every_key(api, miniprogram, service_account, h5):
    ids = {
        resolve(api, app, openid, UNIONID).json()["person"]["id"]
        for app, openid in [(miniprogram, "oMini1"), (service_account, "oSvc1"), (h5, "oH51")]
    }
    assert len(ids) == 1
    person_id = ids.pop()
    put = api.put(f"/api/v1/persons/{person_id}/phone", {"phone": PHONE}, format="json")
    assert put.status_code == 200

    lookups = [
        f"appid={miniprogram.appid}&openid=oMini1",
        f"appid={service_account.appid}&openid=oSvc1",
        f"appid={h5.appid}&openid=oH51",
        f"unionid={UNIONID}",
        f"unionid={UNIONID}&platform=wechat",
        "phone=%2B86%20138%201234%205678",
        f"phone={PHONE}",
    ]
    for query in lookups:
        response = api.get(f"/api/v1/persons/lookup?{query}")
        assert response.status_code == 200, query
        assert response.json()["id"] == person_id

    body = api.get(f"/api/v1/persons/{person_id}").json()
    assert body["unionids"] == {"wechat": UNIONID}
    assert body["phone"] == "+8613812345678"  # the test key holds phone:read
    assert [i["app_kind"] for i in body["identities"]] == ["miniprogram", "service_account", "h5"]


def test_resolve_answers_created_flag(api, miniprogram):
    first = resolve(api, miniprogram, "oMini1")
    again = resolve(api, miniprogram, "oMini1")
    assert (first.status_code, first.json()["created"]) == (200, True)
    assert (again.status_code, again.json()["created"]) == (200, False)


def test_phone_is_masked_without_phone_read(make_client, miniprogram, actor):
    person = resolve_identity(app=miniprogram, openid="oMini1", actor=actor).person
    bind_phone(person=person, phone=PHONE, actor=actor)
    client = make_client(scopes=[IDENTITY_READ])
    body = client.get(f"/api/v1/persons/{person.public_id}").json()
    assert body["phone"] == "+86 138****5678"
    batch = client.post(
        "/api/v1/persons/lookup", {"appid": miniprogram.appid, "openids": ["oMini1"]}, format="json"
    ).json()
    assert batch["results"][0]["person"]["phone"] == "+86 138****5678"
    # Looking up by the number itself needs phone:read (tests/identity/test_restricted_keys.py).
    by_phone = client.post("/api/v1/persons/lookup", {"phones": [PHONE]}, format="json")
    assert by_phone.status_code == 403


def test_merged_away_id_reads_as_survivor_over_api(api, miniprogram, service_account):
    older = resolve(api, miniprogram, "oMini1").json()["person"]["id"]
    younger = resolve(api, service_account, "oSvc1").json()["person"]["id"]
    api.put(f"/api/v1/persons/{younger}/phone", {"phone": PHONE}, format="json")
    response = api.put(f"/api/v1/persons/{older}/phone", {"phone": PHONE}, format="json")
    assert response.json()["id"] == older
    assert api.get(f"/api/v1/persons/{younger}").json()["id"] == older
    assert MergeRecord.objects.count() == 1


def test_phone_conflict_is_409_with_code_and_changes_nothing(api, miniprogram, service_account):
    first = resolve(api, miniprogram, "oMini1", "oUnionA").json()["person"]["id"]
    second = resolve(api, service_account, "oSvc1", "oUnionB").json()["person"]["id"]
    api.put(f"/api/v1/persons/{second}/phone", {"phone": PHONE}, format="json")

    response = api.put(f"/api/v1/persons/{first}/phone", {"phone": PHONE}, format="json")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "phone_conflict"
    assert api.get(f"/api/v1/persons/lookup?phone={PHONE}").json()["id"] == second
    moved = api.put(
        f"/api/v1/persons/{first}/phone", {"phone": PHONE, "on_conflict": "move"}, format="json"
    )
    assert moved.status_code == 200
    assert api.get(f"/api/v1/persons/lookup?phone={PHONE}").json()["id"] == first


def test_unionid_conflict_is_409(api, miniprogram):
    resolve(api, miniprogram, "oMini1", "oUnionA")
    response = resolve(api, miniprogram, "oMini1", "oUnionB")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "unionid_conflict"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"openid": "oMini1"}, "appid"),
        ({"appid": "wx1111111111111111"}, "openid"),
        ({"appid": "wx1111111111111111", "openid": "undefined"}, "openid"),
        ({"appid": "wx1111111111111111", "openid": "null"}, "openid"),
        ({"appid": "wx1111111111111111", "openid": "[object Object]"}, "openid"),
        ({"appid": "wx1111111111111111", "openid": 12}, "openid"),
        ({"appid": "wx1111111111111111", "openid": "oMini1", "unionid": ""}, "unionid"),
        ({"appid": "wx1111111111111111", "openid": "oMini1", "unionid": "NaN"}, "unionid"),
        ({"appid": "wxunknown", "openid": "oMini1"}, "appid"),
        ({"appid": ["x"], "openid": "oMini1"}, "appid"),
    ],
)
def test_bad_resolve_input_is_400_naming_the_field(api, miniprogram, body, field):
    response = api.post("/api/v1/identities/resolve", body, format="json")
    assert response.status_code == 400
    assert field in response.json()["error"]["details"]
    assert Person.objects.count() == 0


def test_malformed_json_is_400(api):
    response = api.post("/api/v1/identities/resolve", data="{nope", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_request"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("", "non_field_errors"),
        ("openid=oMini1", "appid"),
        ("appid=wx1111111111111111&openid=null", "openid"),
        ("phone=12", "phone"),
        ("unionid=undefined", "unionid"),
        ("unionid=oU&platform=myspace", "platform"),
    ],
)
def test_bad_lookup_is_400(api, miniprogram, query, field):
    response = api.get(f"/api/v1/persons/lookup?{query}")
    assert response.status_code == 400
    assert field in response.json()["error"]["details"]


def test_bad_phone_is_400(api, miniprogram, actor):
    person = resolve_identity(app=miniprogram, openid="oMini1", actor=actor).person
    for body in ({"phone": "12"}, {"phone": PHONE, "on_conflict": "steal"}, {}):
        response = api.put(f"/api/v1/persons/{person.public_id}/phone", body, format="json")
        assert response.status_code == 400
        assert set(response.json()["error"]["details"]) & {"phone", "on_conflict"}


def test_unknown_person_is_404(api):
    response = api.get("/api/v1/persons/p_doesnotexist")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "person_not_found"
    assert api.get("/api/v1/persons/lookup?unionid=oNobody").status_code == 404


def test_batch_lookup_answers_in_input_order_with_nulls(api, miniprogram, actor):
    known = {
        openid: resolve_identity(app=miniprogram, openid=openid, actor=actor).person.public_id
        for openid in ("oA", "oB")
    }
    response = api.post(
        "/api/v1/persons/lookup",
        {"appid": miniprogram.appid, "openids": ["oB", "oMissing", "oA", "oB"]},
        format="json",
    )
    results = response.json()["results"]
    assert [r["key"] for r in results] == ["oB", "oMissing", "oA", "oB"]
    assert [r["person"] and r["person"]["id"] for r in results] == [
        known["oB"],
        None,
        known["oA"],
        known["oB"],
    ]


def test_batch_lookup_rejects_oversize_and_bad_items(api, miniprogram):
    too_many = api.post(
        "/api/v1/persons/lookup",
        {"appid": miniprogram.appid, "openids": [f"o{i}" for i in range(1001)]},
        format="json",
    )
    assert too_many.status_code == 400
    assert "openids" in too_many.json()["error"]["details"]
    bad_item = api.post(
        "/api/v1/persons/lookup",
        {"appid": miniprogram.appid, "openids": ["oGood", "undefined"]},
        format="json",
    )
    assert bad_item.status_code == 400
    assert bad_item.json()["error"]["details"]["openids"] == {
        "1": ["This value is a placeholder and cannot identify anyone."]
    }


def test_single_lookup_runs_a_fixed_small_number_of_queries(
    api, miniprogram, service_account, actor, django_assert_max_num_queries
):
    resolve_identity(app=miniprogram, openid="oMini1", unionid=UNIONID, actor=actor)
    resolve_identity(app=service_account, openid="oSvc1", unionid=UNIONID, actor=actor)
    api.get(f"/api/v1/persons/lookup?unionid={UNIONID}")  # the key's last_used_at is now fresh
    # key, app, and the person with its identities, unionids, stats and tags in one query
    with django_assert_max_num_queries(3):
        response = api.get(f"/api/v1/persons/lookup?appid={miniprogram.appid}&openid=oMini1")
    assert response.status_code == 200


@pytest.mark.parametrize("count", [10, 1000])
def test_batch_lookup_is_a_constant_number_of_queries(api, miniprogram, service_account, count):
    with connection.cursor() as cursor:
        # Seed fast: persons and identities straight in SQL.
        cursor.execute(
            "INSERT INTO identity_person (public_id, created_at, updated_at) "
            "SELECT 'p_bulk' || g, now(), now() FROM generate_series(1, %s) g",
            [count],
        )
        for app in (miniprogram, service_account):
            cursor.execute(
                "INSERT INTO identity_identity (app_id, openid, person_id, subscribe_scene, "
                "created_at, updated_at) "
                "SELECT %s, %s || substr(public_id, 7), id, '', now(), now() FROM identity_person "
                "WHERE public_id LIKE 'p_bulk%%'",
                [app.pk, "o" + app.kind[:3]],
            )
    openids = [f"omin{i}" for i in range(1, count + 1)]
    api.get("/api/v1/persons/lookup?unionid=oWarmTheKey")
    with CaptureQueriesContext(connection) as queries:
        response = api.post(
            "/api/v1/persons/lookup",
            {"appid": miniprogram.appid, "openids": openids},
            format="json",
        )
    assert response.status_code == 200
    results = response.json()["results"]
    assert all(r["person"] and len(r["person"]["identities"]) == 2 for r in results)
    # key, app, and the persons of the openids with everything they show, in one query
    assert len(queries) == 3
