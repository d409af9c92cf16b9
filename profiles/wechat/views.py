"""The service-account callback URL: `/wechat/callback/<appid>`.

Authenticated by WeChat's signature, not an API key. Answers fast with `success` (WeChat waits
5 s and retries three times); a push that cannot be authenticated gets 403 and changes nothing.
"""

import logging

from defusedxml import ElementTree
from django.http import HttpResponse, HttpResponseForbidden
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from identity.models import App
from identity.wechat.callback_crypto import CallbackCryptoError, check_signature, decrypt
from profiles.wechat.pushes import PushInvalid, handle_push, parse_push

logger = logging.getLogger(__name__)

MAX_BODY = 64 * 1024


@csrf_exempt
@require_http_methods(["GET", "POST"])
def callback(request, appid: str):
    app = App.objects.filter(appid=appid).first()
    token = app.get_callback_token() if app else ""
    if not token:
        return HttpResponseForbidden("unknown app")
    query = request.GET
    timestamp, nonce = query.get("timestamp", ""), query.get("nonce", "")
    try:
        if request.method == "GET":
            check_signature(query.get("signature", ""), token, timestamp, nonce)
            return HttpResponse(query.get("echostr", ""), content_type="text/plain")
        if len(request.body) > MAX_BODY:
            return HttpResponse(status=413)
        xml = _authentic_xml(request, app, token, timestamp, nonce)
        outcome = handle_push(app, parse_push(xml))
    except CallbackCryptoError:
        logger.warning("rejected a push for %s: not authentic", appid)
        return HttpResponseForbidden("bad signature")
    except PushInvalid:
        return HttpResponse("success", content_type="text/plain")
    logger.info("push for %s: %s", appid, outcome)
    return HttpResponse("success", content_type="text/plain")


def _authentic_xml(request, app, token, timestamp, nonce) -> str:
    body = request.body.decode("utf-8", errors="replace")
    if request.GET.get("encrypt_type") != "aes":
        check_signature(request.GET.get("signature", ""), token, timestamp, nonce)
        return body
    aes_key = app.get_aes_key()
    if not aes_key:
        raise CallbackCryptoError("safe mode without an AES key")
    try:
        encrypted = ElementTree.fromstring(body).findtext("Encrypt") or ""
    except ElementTree.ParseError as exc:
        raise CallbackCryptoError("not XML") from exc
    check_signature(request.GET.get("msg_signature", ""), token, timestamp, nonce, encrypted)
    return decrypt(encrypted, encoding_aes_key=aes_key, appid=app.appid)
