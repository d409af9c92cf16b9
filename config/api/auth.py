"""API key authentication: `Authorization: Bearer <key>`."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from identity.models.api_keys import hash_key
from identity.selectors import live_api_key
from identity.services.api_keys import touch_api_key


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """Authenticate a backend by its API key; `request.auth` is the ApiKey, with its app
    restriction in `allowed_app_ids` (None for every app)."""

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
        key = live_api_key(hash_key(raw_key))
        if key is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked API key.")
        touch_api_key(key=key)
        return (None, key)

    def authenticate_header(self, request):
        return self.keyword


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = ApiKeyAuthentication
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "API key"}
