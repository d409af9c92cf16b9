"""The service-account callback URL: `/wechat/callback/<appid>`.

Authenticated by WeChat's signature, not an API key, and only when fresh: the `timestamp` must lie
within WECHAT_CALLBACK_MAX_SKEW_SECONDS of now and each signed request is accepted once. An app
with an EncodingAESKey accepts encrypted (safe-mode) pushes only; its URL check stays plain, as
WeChat sends it. Answers fast with `success` (WeChat waits 5 s and retries three times). A push
that is not authentic gets 403, a malformed request 400, each with a short body naming what is
wrong, and changes nothing; an authentic body that is no push we handle gets `success`, so that
WeChat does not retry it. Nothing from the request (openids, bodies) is logged.
"""

import logging
import re

from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from identity.models import App
from platforms.wechat.callback_crypto import (
    CallbackCryptoError,
    MalformedCallback,
    check_signature,
    decrypt,
    extract_encrypt,
)
from platforms.wechat.callback_freshness import check_fresh, claim, release
from platforms.wechat.pushes import PushInvalid, handle_push, parse_push
from platforms.wechat.selectors import callback_app

logger = logging.getLogger(__name__)

MAX_BODY = 64 * 1024
# What an App.appid can hold; a NUL would otherwise reach PostgreSQL and fail there.
APPID_RE = re.compile(r"[^\x00-\x1f\x7f]{1,64}")


def _text(body: str, status: int = 200) -> HttpResponse:
    return HttpResponse(body, status=status, content_type="text/plain")


@csrf_exempt
@require_http_methods(["GET", "POST"])
def callback(request, appid: str):
    if not APPID_RE.fullmatch(appid):
        return _text("bad appid", 400)
    app = callback_app(appid)
    token = app.get_callback_token() if app else ""
    if not token:
        return _text("unknown app", 403)
    try:
        if request.method == "GET":
            return _url_check(request, app, token)
        if len(request.body) > MAX_BODY:
            return HttpResponse(status=413)
        return _push(request, app, token)
    except CallbackCryptoError as exc:
        logger.warning("rejected a push for %s: %s", appid, exc)
        return _text(str(exc), 403)
    except MalformedCallback as exc:
        logger.warning("rejected a push for %s: %s", appid, exc)
        return _text(str(exc), 400)


def _url_check(request, app: App, token: str) -> HttpResponse:
    query = request.GET
    timestamp, nonce, sig = (query.get(name, "") for name in ("timestamp", "nonce", "signature"))
    check_fresh(timestamp, nonce)
    check_signature(sig, token, timestamp, nonce)
    # A replay could make this URL echo text of the replayer's choosing.
    if claim(appid=app.appid, timestamp=timestamp, nonce=nonce) is None:
        raise CallbackCryptoError("replayed")
    return _text(query.get("echostr", ""))


def _push(request, app: App, token: str) -> HttpResponse:
    query = request.GET
    timestamp, nonce = query.get("timestamp", ""), query.get("nonce", "")
    check_fresh(timestamp, nonce)
    aes_key = app.get_aes_key()
    safe_mode = query.get("encrypt_type") == "aes"
    if aes_key and not safe_mode:
        raise CallbackCryptoError("plaintext refused: safe mode is on")
    if safe_mode:
        if not aes_key:
            raise CallbackCryptoError("safe mode without an AES key")
        encrypted = extract_encrypt(request.body)
        sig = query.get("msg_signature", "")
        check_signature(sig, token, timestamp, nonce, encrypted)
        xml = decrypt(encrypted, encoding_aes_key=aes_key, appid=app.appid)
    else:
        sig = query.get("signature", "")
        check_signature(sig, token, timestamp, nonce)
        xml = request.body
    key = claim(appid=app.appid, timestamp=timestamp, nonce=nonce)
    if key is None:
        # `success`, not an error: if this is WeChat retrying a push we applied, it stops.
        logger.warning("replayed push for %s not applied", app.appid)
        return _text("success")
    try:
        outcome = handle_push(app, parse_push(xml))
    except PushInvalid:
        outcome = "ignored"
    except BaseException:
        release(key)  # the push was not applied: WeChat's retry must not count as a replay
        raise
    logger.info("push for %s: %s", app.appid, outcome)
    return _text("success")
