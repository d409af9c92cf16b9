"""Login and phone flows against the fake WeChat server over real HTTP on loopback."""

import logging

import pytest

from config.api.scopes import IDENTITY_READ, IDENTITY_WRITE
from identity.models import Identity
from platforms.wechat.models import WeChatSession
from tests.platforms.wechat.conftest import MINI, SECRETS, SERVICE

pytestmark = pytest.mark.django_db

UNIONID = "oUnion_0123456789abcdefghijkl"


def login(api, code, appid=MINI):
    return api.post(
        "/api/v1/wechat/miniprogram/login", {"appid": appid, "code": code}, format="json"
    )


def test_miniprogram_login_resolves_and_keeps_the_session_key(api, fake_wechat, wechat_apps):
    code = fake_wechat.login_code(MINI, "oMiniUser1", unionid=UNIONID)
    response = login(api, code)
    assert response.status_code == 200
    body = response.json()
    assert body["created"] is True
    assert body["person"]["unionids"] == {"wechat": UNIONID}
    session = WeChatSession.objects.get(identity__openid="oMiniUser1")
    key = fake_wechat.login_codes[code]["session_key"]
    assert session.session_key == key
    assert key not in session.session_key_encrypted
    assert key not in response.content.decode()


def test_mini_and_oauth_logins_with_one_unionid_are_one_person(api, fake_wechat, wechat_apps):
    mini = login(api, fake_wechat.login_code(MINI, "oMini1", unionid=UNIONID)).json()
    code = fake_wechat.oauth_code(SERVICE, "oSvc1", unionid=UNIONID, scope="snsapi_userinfo")
    web = api.post("/api/v1/wechat/oauth/login", {"appid": SERVICE, "code": code}, format="json")
    assert web.status_code == 200
    assert web.json()["person"]["id"] == mini["person"]["id"]


def test_oauth_base_scope_has_no_unionid(api, fake_wechat, wechat_apps):
    code = fake_wechat.oauth_code(SERVICE, "oSvc1", unionid=UNIONID, scope="snsapi_base")
    body = api.post(
        "/api/v1/wechat/oauth/login", {"appid": SERVICE, "code": code}, format="json"
    ).json()
    assert body["person"]["unionids"] == {}


def test_snapshot_users_are_not_linked(api, fake_wechat, wechat_apps):
    code = fake_wechat.oauth_code(SERVICE, "oSnap", snapshot=True, scope="snsapi_userinfo")
    response = api.post(
        "/api/v1/wechat/oauth/login", {"appid": SERVICE, "code": code}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "wechat_snapshot_user"
    assert not Identity.objects.exists()


@pytest.mark.parametrize(
    ("errcode", "status", "code"),
    [
        (40029, 400, "wechat_invalid_code"),
        (40163, 400, "wechat_invalid_code"),
        (40226, 400, "wechat_user_blocked"),
        (45011, 503, "wechat_unavailable"),
        (40125, 502, "wechat_credentials_rejected"),
        (-1, 503, "wechat_unavailable"),
        (99999, 502, "wechat_error"),
    ],
)
def test_wechat_errors_map_to_statuses(api, fake_wechat, wechat_apps, errcode, status, code):
    fake_wechat.fail_next("/sns/jscode2session", errcode, times=5)
    response = login(api, fake_wechat.login_code(MINI, "oMini1"))
    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == code
    assert error["details"]["wechat_errcode"] == errcode
    assert not Identity.objects.exists()


def test_a_used_code_is_rejected(api, fake_wechat, wechat_apps):
    code = fake_wechat.login_code(MINI, "oMini1")
    assert login(api, code).status_code == 200
    again = login(api, code)
    assert again.status_code == 400
    assert again.json()["error"]["details"]["wechat_errcode"] == 40163


def test_busy_is_retried(api, fake_wechat, wechat_apps):
    fake_wechat.fail_next("/sns/jscode2session", -1, times=2)
    response = login(api, fake_wechat.login_code(MINI, "oMini1"))
    assert response.status_code == 200
    assert fake_wechat.calls.count("/sns/jscode2session") == 3


def test_login_on_the_wrong_kind_of_app_is_400(api, fake_wechat, wechat_apps):
    response = login(api, "whatever", appid=SERVICE)
    assert response.status_code == 400
    assert "appid" in response.json()["error"]["details"]


def test_phone_code_binds_the_number(api, fake_wechat, wechat_apps):
    person = login(api, fake_wechat.login_code(MINI, "oMini1")).json()["person"]
    code = fake_wechat.phone_code(MINI, "13812345678")
    response = api.post(
        "/api/v1/wechat/miniprogram/phone",
        {"appid": MINI, "code": code, "person_id": person["id"]},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["phone"] == "+8613812345678"
    lookup = api.get("/api/v1/persons/lookup?phone=13812345678").json()
    assert lookup["id"] == person["id"]


def test_phone_watermark_of_another_app_is_refused(api, fake_wechat, wechat_apps):
    person = login(api, fake_wechat.login_code(MINI, "oMini1")).json()["person"]
    code = fake_wechat.phone_code(MINI, "13812345678", watermark_appid="wxffffffffffffffff")
    response = api.post(
        "/api/v1/wechat/miniprogram/phone",
        {"appid": MINI, "code": code, "person_id": person["id"]},
        format="json",
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "wechat_watermark_mismatch"
    assert response.json()["error"]["details"] == {}


def test_foreign_phone_numbers_keep_their_country_code(api, fake_wechat, wechat_apps):
    person = login(api, fake_wechat.login_code(MINI, "oMini1")).json()["person"]
    code = fake_wechat.phone_code(MINI, "6502530000", country_code="1")
    response = api.post(
        "/api/v1/wechat/miniprogram/phone",
        {"appid": MINI, "code": code, "person_id": person["id"]},
        format="json",
    )
    assert response.json()["phone"] == "+16502530000"


def test_token_expiry_is_refreshed_once(api, fake_wechat, wechat_apps):
    person = login(api, fake_wechat.login_code(MINI, "oMini1")).json()["person"]
    first = fake_wechat.phone_code(MINI, "13812345678")
    api.post(
        "/api/v1/wechat/miniprogram/phone",
        {"appid": MINI, "code": first, "person_id": person["id"]},
        format="json",
    )
    fake_wechat.expire_tokens(MINI)
    second = fake_wechat.phone_code(MINI, "13912345678")
    response = api.post(
        "/api/v1/wechat/miniprogram/phone",
        {"appid": MINI, "code": second, "person_id": person["id"]},
        format="json",
    )
    assert response.status_code == 200
    assert fake_wechat.tokens_issued == 2


def test_no_secret_session_key_or_phone_in_responses_logs_or_errors(
    make_client, fake_wechat, wechat_apps, caplog
):
    """Without phone:read, nothing of the number, the secret or the session key shows."""
    api = make_client(scopes=[IDENTITY_READ, IDENTITY_WRITE])
    caplog.set_level(logging.DEBUG)
    code = fake_wechat.login_code(MINI, "oMini1")
    session_key = fake_wechat.login_codes[code]["session_key"]
    bodies = [login(api, code).content.decode()]
    person = api.get(f"/api/v1/persons/lookup?appid={MINI}&openid=oMini1").json()
    fake_wechat.fail_next("/wxa/business/getuserphonenumber", 40029)
    for phone_code in (
        fake_wechat.phone_code(MINI, "13812345678"),
        fake_wechat.phone_code(MINI, "13812345678"),
    ):
        bodies.append(
            api.post(
                "/api/v1/wechat/miniprogram/phone",
                {"appid": MINI, "code": phone_code, "person_id": person["id"]},
                format="json",
            ).content.decode()
        )
    fake_wechat.fail_next("/sns/jscode2session", 40125)
    bodies.append(login(api, fake_wechat.login_code(MINI, "oMini2")).content.decode())
    text = "\n".join(bodies) + "\n".join(record.getMessage() for record in caplog.records)
    for secret in (SECRETS[MINI], session_key, "13812345678"):
        assert secret not in text


def test_a_restricted_keys_login_links_across_apps_because_wechat_vouches(
    make_client, fake_wechat, wechat_apps
):
    """The unionid of a code exchange comes from WeChat, not the caller: it may join a person
    whom the key cannot see (DESIGN.md, REST API), where a unionid sent to resolve may not."""
    service_key = make_client(scopes=[IDENTITY_WRITE], apps=[SERVICE])
    mini_key = make_client(scopes=[IDENTITY_READ, IDENTITY_WRITE], apps=[MINI])
    code = fake_wechat.oauth_code(SERVICE, "oSvc1", unionid=UNIONID, scope="snsapi_userinfo")
    web = service_key.post(
        "/api/v1/wechat/oauth/login", {"appid": SERVICE, "code": code}, format="json"
    )
    assert web.status_code == 200

    sent = mini_key.post(
        "/api/v1/identities/resolve",
        {"appid": MINI, "openid": "oMini1", "unionid": UNIONID},
        format="json",
    )
    exchanged = login(mini_key, fake_wechat.login_code(MINI, "oMini1", unionid=UNIONID))

    assert sent.status_code == 409
    assert exchanged.status_code == 200
    assert exchanged.json()["person"]["id"] == web.json()["person"]["id"]
    assert [i["appid"] for i in exchanged.json()["person"]["identities"]] == [MINI]
