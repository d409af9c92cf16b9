"""Access tokens in the shared cache, with one refresher per app.

WeChat invalidates an app's previous token when a new one is fetched, so two workers refreshing
at once would keep knocking each other's tokens out. A short cache lock (`cache.add`, atomic on
Redis) lets one worker refresh while the others wait for its token.
"""

import time

from django.core.cache import cache

EARLY_REFRESH_SECONDS = 300
LOCK_SECONDS = 10
WAIT_SECONDS = 5.0


def _key(app) -> str:
    return f"wechat:token:{app.appid}"


def access_token(app, client, *, force_refresh: bool = False) -> str:
    """Return a valid access token for the app, fetching one when missing or refused."""
    key = _key(app)
    if not force_refresh:
        token = cache.get(key)
        if token:
            return token
    else:
        cache.delete(key)
    lock = f"{key}:refresh"
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        if cache.add(lock, "1", timeout=LOCK_SECONDS):
            try:
                token, expires_in = client.fetch_access_token(app)
                cache.set(key, token, timeout=max(expires_in - EARLY_REFRESH_SECONDS, 60))
                return token
            finally:
                cache.delete(lock)
        token = cache.get(key)
        if token:
            return token
        if time.monotonic() > deadline:
            # The refresher died or is slow: take over rather than fail the request.
            cache.delete(lock)
        time.sleep(0.05)
