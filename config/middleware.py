"""Answer 503 in the API error format while the database is unreachable."""

import logging

from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import JsonResponse

logger = logging.getLogger(__name__)


DATABASE_UNAVAILABLE_BODY = {
    "error": {
        "code": "database_unavailable",
        "message": "The database is unavailable; retry shortly.",
        "details": {},
    }
}
RETRY_AFTER_SECONDS = "5"


def database_unavailable_response() -> JsonResponse:
    """Build the 503 answer shared by the middleware, the API and the health check."""
    response = JsonResponse(DATABASE_UNAVAILABLE_BODY, status=503)
    response["Retry-After"] = RETRY_AFTER_SECONDS
    return response


class DatabaseUnavailableMiddleware:
    """Turn a lost database connection into 503 instead of a traceback page.

    Django reconnects on the next request (CONN_HEALTH_CHECKS), so the service recovers without
    a restart once PostgreSQL is back.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, OperationalError | InterfaceError) or (
            isinstance(exception, DatabaseError) and _is_connection_error(exception)
        ):
            logger.warning("database unavailable: %s", type(exception).__name__)
            return database_unavailable_response()
        return None


def _is_connection_error(exception: DatabaseError) -> bool:
    cause = exception.__cause__
    return cause is not None and type(cause).__name__ in {"OperationalError", "InterfaceError"}
