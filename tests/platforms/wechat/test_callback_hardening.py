"""Service-account pushes under attack: replays, stale timestamps, plaintext in safe mode, DTDs,
and malformed input of every kind. Nothing forged is applied and nothing answers 500."""

import base64
import os
import secrets
import struct
from urllib.parse import urlencode

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from django.utils import timezone

from identity.models import Identity
from platforms.wechat.callback_crypto import encrypt, signature
from profiles.models import Event
from tests.platforms.wechat.conftest import AES_KEY, CALLBACK_TOKEN, SERVICE

pytestmark = pytest.mark.django_db

SUCCESS = (200, b"success")
# Digits that int() accepts but WeChat never sends.
FULLWIDTH = "".join(chr(0xFF10 + int(d)) for d in "1714036504")


def now_ts(offset: int = 0) -> str:
    return str(int(timezone.now().timestamp()) + offset)


def push_xml(openid="oFollower1", event="subscribe", create_time=None, root="xml") -> str:
    create_time = now_ts() if create_time is None else create_time
    return (
        f"<{root}><ToUserName><![CDATA[gh_0123456789ab]]></ToUserName>"
        f"<FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{create_time}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
        f"<Event><![CDATA[{event}]]></Event><EventKey><![CDATA[]]></EventKey></{root}>"
    )


def url(appid=SERVICE, **params) -> str:
    return f"/wechat/callback/{appid}?{urlencode(params)}"


def post_plain(client, body, *, timestamp=None, nonce=None, sig=None):
    """POST a plain-mode push signed the way WeChat signs it (or with the given signature)."""
    timestamp = now_ts() if timestamp is None else timestamp
    nonce = secrets.token_hex(5) if nonce is None else nonce
    sig = signature(CALLBACK_TOKEN, timestamp, nonce) if sig is None else sig
    query = url(signature=sig, timestamp=timestamp, nonce=nonce)
    return client.post(query, data=body, content_type="text/xml")


def envelope(encrypted: str) -> str:
    return (
        "<xml><ToUserName><![CDATA[gh_0123456789ab]]></ToUserName>"
        f"<Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
    )


def post_aes(client, encrypted, *, body=None, msg_sig=None, timestamp=None, nonce=None):
    """POST a safe-mode push whose msg_signature covers `encrypted` (unless given)."""
    timestamp = now_ts() if timestamp is None else timestamp
    nonce = secrets.token_hex(5) if nonce is None else nonce
    msg_sig = signature(CALLBACK_TOKEN, timestamp, nonce, encrypted) if msg_sig is None else msg_sig
    query = url(
        signature=signature(CALLBACK_TOKEN, timestamp, nonce),
        timestamp=timestamp,
        nonce=nonce,
        encrypt_type="aes",
        msg_signature=msg_sig,
    )
    body = envelope(encrypted) if body is None else body
    return client.post(query, data=body, content_type="text/xml")


def url_check(client, *, timestamp=None, nonce="1514711492", echostr="hello123", sig=None):
    timestamp = now_ts() if timestamp is None else timestamp
    sig = signature(CALLBACK_TOKEN, timestamp, nonce) if sig is None else sig
    return client.get(url(signature=sig, timestamp=timestamp, nonce=nonce, echostr=echostr))


def aes_raw(plain: bytes, *, pad: bool = True) -> str:
    """Encrypt arbitrary plaintext bytes with the app's key, as WeChat's AES-CBC does."""
    key = base64.b64decode(AES_KEY + "=")
    if pad:
        size = 32 - len(plain) % 32
        plain += bytes([size]) * size
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()


def wechat_payload(xml: bytes, appid: str = SERVICE) -> bytes:
    return os.urandom(16) + struct.pack(">I", len(xml)) + xml + appid.encode()


def answer(response):
    return response.status_code, response.content


def nothing_applied(fake_wechat):
    return (
        not Event.objects.exists()
        and not Identity.objects.exists()
        and "/cgi-bin/user/info" not in fake_wechat.calls
    )


# -- replays -------------------------------------------------------------------------------


def test_a_replayed_signature_is_refused_and_not_applied_twice(client, fake_wechat, callback_app):
    timestamp, nonce = now_ts(), "1514711492"
    first = post_plain(client, push_xml("oFollower1"), timestamp=timestamp, nonce=nonce)
    assert answer(first) == SUCCESS
    # The plain signature does not cover the body: a replay carries a forged one.
    forged_unfollow = push_xml("oFollower1", "unsubscribe", now_ts(5))
    forged_follow = push_xml("oVictim2", "subscribe")
    for body in (forged_unfollow, forged_follow, push_xml("oFollower1")):
        replay = post_plain(client, body, timestamp=timestamp, nonce=nonce)
        assert answer(replay) == SUCCESS
    assert Identity.objects.get().followed is True
    assert list(Event.objects.values_list("type", flat=True)) == ["subscribe"]


def test_a_replayed_url_check_is_refused(client, callback_app):
    timestamp = now_ts()
    assert answer(url_check(client, timestamp=timestamp)) == (200, b"hello123")
    replay = url_check(client, timestamp=timestamp, echostr="<script>")
    assert answer(replay) == (403, b"replayed")


def test_a_safe_mode_pushs_logged_signature_does_not_pass_a_url_check(client, fake_wechat, aes_app):
    """A safe-mode push carries `signature` beside `msg_signature`; proxies log both. Replayed
    as a URL check, it must not make the callback echo text of the replayer's choosing."""
    timestamp, nonce = now_ts(), secrets.token_hex(5)
    payload = wechat_payload(push_xml().encode())
    assert answer(post_aes(client, aes_raw(payload), timestamp=timestamp, nonce=nonce)) == SUCCESS

    replay = url_check(client, timestamp=timestamp, nonce=nonce, echostr="attacker-chosen")

    assert answer(replay) == (403, b"replayed")


def test_a_multipart_body_is_refused_not_a_500(client, fake_wechat, callback_app):
    """A form body is no push: unsigned or signed, the answer is a 4xx or `success`."""
    unsigned = client.post(url(), data={"a": "b"})
    timestamp, nonce = now_ts(), secrets.token_hex(5)
    signed = client.post(
        url(
            signature=signature(CALLBACK_TOKEN, timestamp, nonce), timestamp=timestamp, nonce=nonce
        ),
        data={"a": "b"},
    )

    assert 400 <= unsigned.status_code < 500
    assert signed.status_code < 500
    assert nothing_applied(fake_wechat)


# -- timestamps ----------------------------------------------------------------------------


@pytest.mark.parametrize("offset", [-301, 301, -86400, 86400, -(10**8)])
def test_old_and_future_timestamps_are_refused(client, fake_wechat, callback_app, offset):
    assert answer(url_check(client, timestamp=now_ts(offset))) == (403, b"stale timestamp")
    response = post_plain(client, push_xml(), timestamp=now_ts(offset))
    assert answer(response) == (403, b"stale timestamp")
    assert nothing_applied(fake_wechat)
    # Within the window (clocks drift a little) the same push is applied.
    inside = now_ts(250 if offset < 0 else -250)
    assert answer(post_plain(client, push_xml(), timestamp=inside)) == SUCCESS
    assert Event.objects.count() == 1


def test_the_window_is_a_setting(client, fake_wechat, callback_app, settings):
    settings.WECHAT_CALLBACK_MAX_SKEW_SECONDS = 30
    response = post_plain(client, push_xml(), timestamp=now_ts(-120))
    assert answer(response) == (403, b"stale timestamp")
    assert nothing_applied(fake_wechat)


@pytest.mark.parametrize(
    "timestamp", ["", "abc", "1714036504.5", "-1714036504", "1e9", FULLWIDTH, "9" * 30]
)
def test_a_non_numeric_timestamp_is_a_bad_request(client, fake_wechat, callback_app, timestamp):
    assert answer(url_check(client, timestamp=timestamp)) == (400, b"bad timestamp")
    response = post_plain(client, push_xml(), timestamp=timestamp)
    assert answer(response) == (400, b"bad timestamp")
    assert nothing_applied(fake_wechat)


# -- safe mode -----------------------------------------------------------------------------


def test_plaintext_to_an_aes_app_is_refused(client, fake_wechat, aes_app):
    response = post_plain(client, push_xml())
    assert answer(response) == (403, b"plaintext refused: safe mode is on")
    assert nothing_applied(fake_wechat)
    # WeChat's URL check stays plain in safe mode, and encrypted pushes are applied.
    assert answer(url_check(client)) == (200, b"hello123")
    encrypted = encrypt(push_xml(), encoding_aes_key=AES_KEY, appid=SERVICE)
    assert answer(post_aes(client, encrypted)) == SUCCESS
    assert Event.objects.count() == 1


# -- XML bombs and DTDs ----------------------------------------------------------------------

LAUGHS = (
    '<!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa">'
    + "".join(
        f'<!ENTITY {b} "{("&" + a + ";") * 10}">'
        for a, b in zip("abcdefgh", "bcdefghi", strict=True)
    )
    + "]>"
)
# (document type declaration, what goes where the value belongs); {real} is the real value.
DTDS = {
    "billion laughs": (LAUGHS, "&i;"),
    "internal entity": ('<!DOCTYPE xml [<!ENTITY v "{real}">]>', "&v;"),
    "external entity": ('<!DOCTYPE xml [<!ENTITY v SYSTEM "file:///etc/passwd">]>', "&v;"),
    "bare doctype": ("<!DOCTYPE xml>", "{real}"),
}


def with_dtd(dtd: tuple[str, str], element: str, real: str) -> str:
    declaration, value = (part.replace("{real}", real) for part in dtd)
    return declaration + element.replace(real, value)


@pytest.mark.parametrize("dtd", DTDS.values(), ids=DTDS.keys())
def test_a_dtd_in_a_plain_push_is_refused(client, fake_wechat, callback_app, dtd):
    body = with_dtd(dtd, push_xml("oFollower1"), "oFollower1")
    assert answer(post_plain(client, body)) == SUCCESS
    assert nothing_applied(fake_wechat)


@pytest.mark.parametrize("dtd", DTDS.values(), ids=DTDS.keys())
def test_a_dtd_in_a_safe_mode_envelope_is_refused_before_the_signature(
    client, fake_wechat, aes_app, dtd
):
    encrypted = encrypt(push_xml(), encoding_aes_key=AES_KEY, appid=SERVICE)
    body = with_dtd(dtd, f"<xml><Encrypt>{encrypted}</Encrypt></xml>", encrypted)
    assert answer(post_aes(client, encrypted, body=body)) == (400, b"bad body")
    assert nothing_applied(fake_wechat)


# -- malformed paths, queries and bodies ---------------------------------------------------


def send(client, method, appid):
    timestamp, nonce = now_ts(), "1514711492"
    sig = signature(CALLBACK_TOKEN, timestamp, nonce)
    query = url(appid, signature=sig, timestamp=timestamp, nonce=nonce, echostr="hello123")
    if method == "get":
        return client.get(query)
    return client.post(query, data=push_xml(), content_type="text/xml")


@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize("appid", ["wx%00", "wx2222222222222222%00"])
def test_a_nul_in_the_appid_path_is_a_client_error(
    client, fake_wechat, callback_app, method, appid
):
    # config.request_guard answers 404 before the view, whose own check would answer 400.
    assert 400 <= send(client, method, appid).status_code < 500
    assert nothing_applied(fake_wechat)


@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize("appid", ["%01wx", "wx2222222222222222%1b", "w" * 65])
def test_a_malformed_appid_is_a_bad_request(client, callback_app, method, appid):
    assert answer(send(client, method, appid)) == (400, b"bad appid")


@pytest.mark.parametrize("create_time", ["9" * 20, "-1", "1_714_036_504", FULLWIDTH])
def test_create_time_out_of_range_is_ignored(client, fake_wechat, callback_app, create_time):
    assert answer(post_plain(client, push_xml(create_time=create_time))) == SUCCESS
    assert nothing_applied(fake_wechat)


PLAIN_GARBAGE = {
    "wrong root": push_xml(root="notxml").encode(),
    "not UTF-8": push_xml("oFollower1\udcff").encode("utf-8", "surrogateescape"),
    "unknown encoding": b'<?xml version="1.0" encoding="x-nope"?>' + push_xml().encode(),
    "openid too long": push_xml("o" * 65).encode(),
    "openid with markup": push_xml("o<b>1</b>").encode(),
}


@pytest.mark.parametrize("body", PLAIN_GARBAGE.values(), ids=PLAIN_GARBAGE.keys())
def test_authentic_garbage_is_answered_success_and_ignored(client, fake_wechat, callback_app, body):
    assert answer(post_plain(client, body)) == SUCCESS
    assert nothing_applied(fake_wechat)


def test_a_non_ascii_signature_is_refused(client, fake_wechat, callback_app):
    assert answer(url_check(client, sig="é" * 40)) == (403, b"bad signature")
    assert answer(post_plain(client, push_xml(), sig="é" * 40)) == (403, b"bad signature")
    assert nothing_applied(fake_wechat)


def test_a_non_ascii_msg_signature_is_refused(client, fake_wechat, aes_app):
    encrypted = encrypt(push_xml(), encoding_aes_key=AES_KEY, appid=SERVICE)
    assert answer(post_aes(client, encrypted, msg_sig="签名" * 20)) == (403, b"bad signature")
    assert nothing_applied(fake_wechat)


@pytest.mark.parametrize("nonce", ["", "n" * 65])
def test_a_missing_or_oversized_nonce_is_a_bad_request(client, fake_wechat, callback_app, nonce):
    assert answer(post_plain(client, push_xml(), nonce=nonce)) == (400, b"bad nonce")
    assert nothing_applied(fake_wechat)


def _envelope_garbage():
    real = encrypt(push_xml(), encoding_aes_key=AES_KEY, appid=SERVICE)
    return {
        "empty": (b"", ""),
        "truncated": (envelope(real)[:60].encode(), real),
        "wrong root": (f"<notxml><Encrypt>{real}</Encrypt></notxml>".encode(), real),
        "no Encrypt": (b"<xml><ToUserName>gh_0123456789ab</ToUserName></xml>", ""),
        "empty Encrypt": (b"<xml><Encrypt></Encrypt></xml>", ""),
        "nested Encrypt": (f"<xml><Encrypt><a>{real}</a></Encrypt></xml>".encode(), real),
        "not UTF-8": (b"<xml><Encrypt>\xff\xfe</Encrypt></xml>", "\ufffd\ufffd"),
        "not XML": (b"\x00\x01 not xml at all", ""),
    }


ENVELOPE_GARBAGE = _envelope_garbage()


@pytest.mark.parametrize(("body", "signed"), ENVELOPE_GARBAGE.values(), ids=ENVELOPE_GARBAGE.keys())
def test_a_malformed_safe_mode_envelope_is_a_bad_request(
    client, fake_wechat, aes_app, body, signed
):
    assert answer(post_aes(client, signed, body=body)) == (400, b"bad body")
    assert nothing_applied(fake_wechat)


def padded_by_hand(payload: bytes, last: int) -> bytes:
    """Pad to whole blocks with 0x01 bytes and end on `last`: wrong PKCS#7 unless `last` is 1."""
    return payload + b"\x01" * ((32 - len(payload) % 32) % 32 + 31) + bytes([last])


def _payload_garbage():
    good = push_xml().encode()
    return {
        "bad base64": "not*base64!",
        "not whole blocks": base64.b64encode(os.urandom(40)).decode(),
        "pad byte 0": aes_raw(padded_by_hand(wechat_payload(good), 0), pad=False),
        "pad byte 33": aes_raw(padded_by_hand(wechat_payload(good), 33), pad=False),
        "uneven padding": aes_raw(padded_by_hand(wechat_payload(good), 32), pad=False),
        "length past the end": aes_raw(
            os.urandom(16) + struct.pack(">I", 10**6) + good + SERVICE.encode()
        ),
        "too short": aes_raw(b"\x00" * 10),
        "not UTF-8": aes_raw(wechat_payload(good.replace(b"oFollower1", b"oFollower\xff"))),
    }


PAYLOAD_GARBAGE = _payload_garbage()


@pytest.mark.parametrize("encrypted", PAYLOAD_GARBAGE.values(), ids=PAYLOAD_GARBAGE.keys())
def test_an_undecryptable_payload_is_a_bad_request(client, fake_wechat, aes_app, encrypted):
    assert answer(post_aes(client, encrypted)) == (400, b"bad Encrypt")
    assert nothing_applied(fake_wechat)


def test_a_payload_for_another_app_is_refused(client, fake_wechat, aes_app):
    encrypted = aes_raw(wechat_payload(push_xml().encode(), appid="wxffffffffffffffff"))
    assert answer(post_aes(client, encrypted)) == (403, b"message for another app")
    assert nothing_applied(fake_wechat)
