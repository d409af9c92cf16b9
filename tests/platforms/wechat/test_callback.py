"""Service-account pushes: URL check, signatures, AES safe mode, follow state and events."""

import secrets
import time

import pytest

from identity.models import Identity, UnionId
from identity.services.app_secrets import set_app_credentials
from platforms.wechat.callback_crypto import decrypt, encrypt, signature
from profiles.models import Event
from tests.platforms.wechat.conftest import AES_KEY, CALLBACK_TOKEN, SERVICE

pytestmark = pytest.mark.django_db


def fresh():
    """A timestamp and nonce as WeChat sends them: now, and new for each request."""
    return str(int(time.time())), str(secrets.randbelow(10**10))


def push_xml(openid, event, create_time=1714036504, event_key=""):
    return (
        "<xml><ToUserName><![CDATA[gh_0123456789ab]]></ToUserName>"
        f"<FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{create_time}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
        f"<Event><![CDATA[{event}]]></Event><EventKey><![CDATA[{event_key}]]></EventKey></xml>"
    )


def post_plain(client, xml, *, token=CALLBACK_TOKEN):
    timestamp, nonce = fresh()
    sig = signature(token, timestamp, nonce)
    url = f"/wechat/callback/{SERVICE}?signature={sig}&timestamp={timestamp}&nonce={nonce}"
    return client.post(url, data=xml, content_type="text/xml")


def post_aes(client, xml):
    timestamp, nonce = fresh()
    encrypted = encrypt(xml, encoding_aes_key=AES_KEY, appid=SERVICE)
    msg_sig = signature(CALLBACK_TOKEN, timestamp, nonce, encrypted)
    url = (
        f"/wechat/callback/{SERVICE}?signature={signature(CALLBACK_TOKEN, timestamp, nonce)}"
        f"&timestamp={timestamp}&nonce={nonce}&encrypt_type=aes&msg_signature={msg_sig}"
    )
    body = (
        "<xml><ToUserName><![CDATA[gh_0123456789ab]]></ToUserName>"
        f"<Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
    )
    return client.post(url, data=body, content_type="text/xml")


def test_worked_signature_example():
    assert (
        signature("AAAAA", "1714036504", "1514711492") == "f464b24fc39322e44b38aa78f5edd27bd1441696"
    )


def test_url_verification_echoes_only_with_a_valid_signature(client, callback_app):
    timestamp, nonce = fresh()
    query = f"timestamp={timestamp}&nonce={nonce}&echostr=hello123"
    sig = signature(CALLBACK_TOKEN, timestamp, nonce)
    ok = client.get(f"/wechat/callback/{SERVICE}?signature={sig}&{query}")
    assert (ok.status_code, ok.content) == (200, b"hello123")
    bad = client.get(f"/wechat/callback/{SERVICE}?signature=0000&{query}")
    assert bad.status_code == 403


def test_aes_round_trip():
    xml = push_xml("oFollower1", "subscribe")
    encrypted = encrypt(xml, encoding_aes_key=AES_KEY, appid=SERVICE)
    assert decrypt(encrypted, encoding_aes_key=AES_KEY, appid=SERVICE) == xml
    with pytest.raises(Exception, match="another app"):
        decrypt(encrypted, encoding_aes_key=AES_KEY, appid="wxffffffffffffffff")


def test_plain_subscribe_sets_follow_state_fetches_unionid_and_stores_event(
    client, fake_wechat, callback_app
):
    fake_wechat.add_follower(SERVICE, "oFollower1", unionid="oUnionFollower1")
    response = post_plain(client, push_xml("oFollower1", "subscribe", event_key="qrscene_spring"))
    assert (response.status_code, response.content) == (200, b"success")
    identity = Identity.objects.get(openid="oFollower1")
    assert identity.followed is True
    assert identity.subscribe_scene == "spring"
    assert UnionId.objects.get(person=identity.person).unionid == "oUnionFollower1"
    event = Event.objects.get()
    assert (event.type_id, event.properties) == ("subscribe", {"scene": "spring"})


def test_duplicate_pushes_are_ignored(client, fake_wechat, callback_app):
    fake_wechat.add_follower(SERVICE, "oFollower1")
    xml = push_xml("oFollower1", "subscribe")
    for _ in range(3):
        assert post_plain(client, xml).content == b"success"
    assert Event.objects.count() == 1
    assert fake_wechat.calls.count("/cgi-bin/user/info") == 1


def test_aes_unsubscribe_and_scan(client, fake_wechat, aes_app):
    fake_wechat.add_follower(SERVICE, "oFollower1")
    post_aes(client, push_xml("oFollower1", "subscribe", 1714036504))
    post_aes(client, push_xml("oFollower1", "unsubscribe", 1714036600))
    identity = Identity.objects.get(openid="oFollower1")
    assert identity.followed is False
    post_aes(client, push_xml("oFollower1", "SCAN", 1714036700, event_key="store42"))
    identity.refresh_from_db()
    assert identity.followed is True
    assert list(Event.objects.order_by("occurred_at").values_list("type", flat=True)) == [
        "subscribe",
        "unsubscribe",
        "qr_scan",
    ]


def test_bad_signatures_change_nothing(client, fake_wechat, callback_app, actor):
    assert post_plain(client, push_xml("oX", "subscribe"), token="wrong").status_code == 403
    set_app_credentials(app=callback_app, aes_key=AES_KEY, actor=actor)
    timestamp, nonce = fresh()
    encrypted = encrypt(push_xml("oX", "subscribe"), encoding_aes_key=AES_KEY, appid=SERVICE)
    url = (
        f"/wechat/callback/{SERVICE}?timestamp={timestamp}&nonce={nonce}"
        f"&encrypt_type=aes&msg_signature=deadbeef"
    )
    body = f"<xml><Encrypt>{encrypted}</Encrypt></xml>"
    assert client.post(url, data=body, content_type="text/xml").status_code == 403
    assert not Identity.objects.exists()


def test_unknown_app_and_garbage_bodies(client, callback_app):
    assert client.get("/wechat/callback/wxnope?signature=x").status_code == 403
    assert post_plain(client, "not xml").content == b"success"
    assert (
        post_plain(client, "<xml><MsgType>text</MsgType><CreateTime>1</CreateTime></xml>").content
        == b"success"
    )
    assert not Event.objects.exists()


def test_follow_is_stored_when_wechat_is_down(client, fake_wechat, callback_app):
    fake_wechat.fail_next("/cgi-bin/user/info", -1, times=10)
    post_plain(client, push_xml("oFollower1", "subscribe"))
    assert Identity.objects.get(openid="oFollower1").followed is True
