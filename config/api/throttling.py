"""Per-API-key rate limits, counted in the shared cache (Redis when REDIS_URL is set)."""

import time

from django.conf import settings
from django.core.cache import cache
from rest_framework.throttling import BaseThrottle, SimpleRateThrottle


class ApiKeyRateThrottle(BaseThrottle):
    """Limit each API key to `API_RATE_LIMIT` requests (e.g. "6000/min"); 429 with Retry-After.

    A counter per key for a window that starts at the key's first request and lasts the
    rate's period, keyed by the key's id, so that every worker and machine sharing the cache
    shares the budget. DRF's own
    throttle keeps the time of every request of the window in one cached list, read and
    written whole on each request: 6000 timestamps for a busy key. Here a request costs one
    increment. Requests without a valid key never get here: authentication answers them first.
    """

    def __init__(self):
        self.rate = settings.API_RATE_LIMIT
        self.wait_seconds = None

    def allow_request(self, request, view) -> bool:
        if not self.rate or request.auth is None:
            return True
        limit, period = SimpleRateThrottle.parse_rate(None, self.rate)
        key = f"throttle:api_key:{request.auth.pk}:{period}"
        try:
            count = cache.incr(key)
        except ValueError:  # the window's first request: the window starts now
            now = time.time()
            if cache.add(key, 1, timeout=period):
                cache.set(f"{key}:start", now, timeout=period)
                count = 1
            else:
                count = cache.incr(key)
        if count <= limit:
            return True
        started = cache.get(f"{key}:start") or time.time()
        self.wait_seconds = max(1, int(started + period - time.time()) + 1)
        return False

    def wait(self):
        return self.wait_seconds
