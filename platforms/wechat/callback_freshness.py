"""Freshness of service-account pushes: a timestamp window and a cache of seen signatures.

A plain-mode signature covers only (token, timestamp, nonce), not the body, and WeChat sends it
in the URL of every push, where proxies log it. Without these checks one logged signature would
authenticate any body, for any openid, forever; with them it authenticates one request, within
WECHAT_CALLBACK_MAX_SKEW_SECONDS of its timestamp.
"""

import hashlib
import re
import time

from django.conf import settings
from django.core.cache import cache

from platforms.wechat.callback_crypto import CallbackCryptoError, MalformedCallback

TIMESTAMP_RE = re.compile(r"[0-9]{1,12}")
NONCE_RE = re.compile(r"[\x21-\x7e]{1,64}")


def check_fresh(timestamp: str, nonce: str) -> None:
    """Refuse a malformed timestamp or nonce, and a timestamp too far from now either way."""
    if not TIMESTAMP_RE.fullmatch(timestamp):
        raise MalformedCallback("timestamp")
    if not NONCE_RE.fullmatch(nonce):
        raise MalformedCallback("nonce")
    if abs(time.time() - int(timestamp)) > settings.WECHAT_CALLBACK_MAX_SKEW_SECONDS:
        raise CallbackCryptoError("stale timestamp")


def claim(*, appid: str, timestamp: str, nonce: str) -> str | None:
    """Record an authentic request as seen; return its cache key, or None if seen before.

    Keyed by (appid, timestamp, nonce), not by a signature: a safe-mode push carries both
    `signature` and `msg_signature` for one (timestamp, nonce), and a URL check replaying the
    push's logged `signature` must find it taken. Only an authentic request claims (the caller
    checks the signature first), so nobody can pre-empt WeChat's (timestamp, nonce).
    `cache.add` is atomic in Redis, so of two processes racing on one request only one wins.
    The key is a short hash, free of anything from the request. It is kept for twice the window
    (plus a minute of clock drift): a timestamp accepted now stays acceptable at most that long.
    """
    seen = "\n".join((appid, timestamp, nonce)).encode()
    key = "wxcb:" + hashlib.sha256(seen).hexdigest()[:32]
    ttl = 2 * settings.WECHAT_CALLBACK_MAX_SKEW_SECONDS + 60
    return key if cache.add(key, 1, timeout=ttl) else None


def release(key: str) -> None:
    """Forget a claimed request whose handling failed, so that WeChat's retry is applied."""
    cache.delete(key)
