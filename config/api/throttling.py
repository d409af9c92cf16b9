"""Per-API-key rate limits, counted in the shared cache (Redis when REDIS_URL is set)."""

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle


class ApiKeyRateThrottle(SimpleRateThrottle):
    """Limit each API key to `API_RATE_LIMIT` requests (e.g. "6000/min"); 429 with Retry-After.

    Keyed by the key's id, so every worker and machine sharing the cache shares the budget.
    Requests without a valid key never get here: authentication answers them first.
    """

    scope = "api_key"

    def get_rate(self):
        return settings.API_RATE_LIMIT

    def get_cache_key(self, request, view):
        if request.auth is None:
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.auth.pk}
