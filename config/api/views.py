"""The base of every API view: the caller's key, its app checks, input validation, errors.

Views stay thin (STYLE.md): they validate with `valid` / `valid_query` (400s come from there),
call one service or selector, and shape the answer; `ERRORS` documents the error format for
each status in the schema.
"""

from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers
from rest_framework.views import APIView

from config.api.permissions import check_app_allowed
from identity import selectors
from identity.exceptions import ScopeMissing
from identity.models import Actor, App


class ErrorBody(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    details = serializers.DictField()


class ErrorOut(serializers.Serializer):
    error = ErrorBody()


ERRORS = {code: OpenApiResponse(ErrorOut) for code in (400, 401, 403, 404, 409, 413, 429, 503)}


class ApiView(APIView):
    """Shared helpers: the caller's key, app checks and the person representation."""

    # The docstring above is what the schema shows for operations without a description of
    # their own (issue 11 kept the schema unchanged); what this class is: a view called with an
    # API key, `required_scopes` naming the scope of each method.

    required_scopes: dict[str, str] = {}

    @property
    def key(self):
        return self.request.auth

    def app(self, appid: str, *, field: str = "appid") -> App:
        """The app of an appid the caller sent, refused when outside the key's restriction."""
        app = selectors.get_app(appid, field=field)
        check_app_allowed(self.key, app)
        return app

    def actor(self) -> Actor:
        return Actor.api_key(self.key)

    def require_scope(self, scope: str, *, field: str) -> None:
        """Refuse (403 scope_missing, naming `field`) a part of a request that needs a scope
        beyond the method's."""
        if not self.key.has_scope(scope):
            raise ScopeMissing(scope, field=field)


def valid(serializer_class, data) -> dict:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def valid_query(serializer_class, request) -> dict:
    """Validate the query string as the schema documents it.

    A plain dict, not the QueryDict: DRF reads an empty value of a form as "absent", which
    would let `?limit=` or `?type=` through as if they were not there.
    """
    return valid(serializer_class, request.query_params.dict())
