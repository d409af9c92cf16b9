"""API key authentication: `Authorization: Bearer <key>`."""

import time
from datetime import timedelta

from django.conf import settings
from django.contrib.postgres.aggregates import ArrayAgg
from django.db.models import Q
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from identity.models import ApiKey
from identity.models.api_keys import hash_key

LAST_USED_RESOLUTION = timedelta(minutes=1)
_keys: dict[str, tuple[float, ApiKey]] = {}


def forget_cached_keys() -> None:
    """Drop this process's cached keys (a revocation takes effect here at once)."""
    _keys.clear()


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """Authenticate a backend by its API key; `request.auth` is the ApiKey.

    The key's app restriction is loaded in the same query (`allowed_app_ids`, None for every
    app), so authorisation needs no further query.
    """

    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Malformed Authorization header.")
        try:
            raw_key = header[1].decode("ascii")
        except UnicodeDecodeError as exc:
            raise exceptions.AuthenticationFailed("Invalid API key.") from exc
        key = self._key(hash_key(raw_key))
        if key is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked API key.")
        self._touch(key)
        return (None, key)

    @staticmethod
    def _key(key_hash: str) -> ApiKey | None:
        """Load a live key with its app restriction; each process keeps it for
        API_KEY_CACHE_SECONDS, so that the hot path skips the query."""
        ttl = settings.API_KEY_CACHE_SECONDS
        cached = _keys.get(key_hash)
        if ttl and cached and cached[0] > time.monotonic():
            return cached[1]
        key = (
            ApiKey.objects.filter(key_hash=key_hash, revoked_at__isnull=True)
            .annotate(app_ids=ArrayAgg("apps__id", filter=Q(apps__isnull=False), default=[]))
            .first()
        )
        if key is not None:
            key.allowed_app_ids = set(key.app_ids) if key.app_ids else None
            if ttl:
                _keys[key_hash] = (time.monotonic() + ttl, key)
        return key

    def authenticate_header(self, request):
        return self.keyword

    @staticmethod
    def _touch(key: ApiKey) -> None:
        now = timezone.now()
        if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
            ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
            key.last_used_at = now


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = ApiKeyAuthentication
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "API key"}
