"""One error format for the whole API: {"error": {"code", "message", "details"}}."""

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response

from config.middleware import DATABASE_UNAVAILABLE_BODY, RETRY_AFTER_SECONDS
from config.upstream import UpstreamError
from identity.exceptions import DomainError

logger = logging.getLogger(__name__)

_DRF_CODES = {
    exceptions.ParseError: "malformed_request",
    exceptions.AuthenticationFailed: "invalid_api_key",
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.PermissionDenied: "scope_missing",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "rate_limited",
}


def error_body(code: str, message: str, details: dict | None = None) -> dict:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def exception_handler(exc, context):
    """Map domain, DRF and database errors to the API error format; never a traceback."""
    if isinstance(exc, DomainError):
        return Response(error_body(exc.code, exc.message, exc.details), status=exc.status)
    if isinstance(exc, UpstreamError):
        return Response(
            error_body(exc.code, str(exc), exc.details()), status=exc.status, headers=exc.headers()
        )
    if isinstance(exc, exceptions.ValidationError):
        details = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        return Response(
            error_body("invalid", "Some fields are invalid.", details),
            status=status.HTTP_400_BAD_REQUEST,
        )
    if isinstance(exc, RequestDataTooBig):
        return Response(
            error_body("request_too_large", "The request body is too large."),
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if isinstance(exc, exceptions.APIException):
        return _api_exception_response(exc)
    if isinstance(exc, OperationalError | InterfaceError) or (
        isinstance(exc, DatabaseError) and "connection" in str(exc).lower()
    ):
        logger.warning("database unavailable: %s", type(exc).__name__)
        return Response(
            DATABASE_UNAVAILABLE_BODY,
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": RETRY_AFTER_SECONDS},
        )
    return None


def _api_exception_response(exc: exceptions.APIException) -> Response:
    code = next(
        (value for klass, value in _DRF_CODES.items() if isinstance(exc, klass)),
        exc.default_code,
    )
    headers = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None) is not None:
        headers["Retry-After"] = str(int(exc.wait))
    message = str(exc.detail) if not isinstance(exc.detail, list | dict) else exc.default_detail
    return Response(error_body(code, message), status=exc.status_code, headers=headers)


def not_found_view(request, exception=None):
    """JSON 404 for unknown URLs (DEBUG off)."""
    return JsonResponse(error_body("not_found", "No such endpoint."), status=404)


def server_error_view(request):
    """JSON 500 without any detail of the failure."""
    return JsonResponse(error_body("server_error", "An unexpected error occurred."), status=500)
