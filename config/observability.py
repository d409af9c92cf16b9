"""The request id, the request metrics and the access line of every request.

First in MIDDLEWARE, so that it sees every answer: the static files WhiteNoise serves, the
refusals of the security and NUL guards, the 503 of a lost database, the 500 of a crash.

This runs on the hot path (a lookup answers in about a millisecond): no query, no I/O beyond
the log line, a few dictionary lookups. The route is read from `request.resolver_match` once
the view ran, so nothing is resolved twice.
"""

import logging
import re
import uuid
from contextlib import ExitStack
from time import perf_counter

from django.conf import settings
from django.core.signals import request_finished
from django.db import connections

from config import metrics
from config.logs import STATIC_ROUTE, current_request_id, route_of

access_logger = logging.getLogger("access")

HEADER = "X-Request-ID"
# An incoming id is kept only when it cannot break a log line or a header: letters, digits,
# dot, underscore and dash, 8 to 64 of them. Anything else is replaced, not cleaned.
SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")
# Any other method is one label value: a caller must not grow the metrics by inventing verbs.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class SqlTimer:
    """Sum the time of the SQL statements run through a connection (`execute_wrapper`)."""

    __slots__ = ("queries", "seconds")

    def __init__(self):
        self.seconds = 0.0
        self.queries = 0

    def __call__(self, execute, sql, params, many, context):
        start = perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds += perf_counter() - start
            self.queries += 1


class RequestObservabilityMiddleware:
    """Give each request an id (`X-Request-ID`, in and out), time it and log one line of it.

    A caller's own `X-Request-ID` is kept when it is safe (SAFE_REQUEST_ID), so that its logs
    and ours share the id; otherwise one is made (uuid4, hex). The id is on the answer,
    whatever its status, and on every log record made while the request is served.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        self.static_prefix = settings.STATIC_URL or "/static/"

    def __call__(self, request):
        incoming = request.META.get("HTTP_X_REQUEST_ID", "")
        request_id = incoming if SAFE_REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        # Kept until the answer is closed (`request_finished`), not only until this returns:
        # Django logs a 4xx or 5xx answer after the middleware, and a streamed body is sent
        # after it too.
        current_request_id.set(request_id)
        timer = SqlTimer()
        start = perf_counter()
        with ExitStack() as stack:
            # Every alias, so that a read sent to a replica counts as well.
            for connection in connections.all():
                stack.enter_context(connection.execute_wrapper(timer))
            response = self.get_response(request)
        seconds = perf_counter() - start
        response[HEADER] = request_id
        self.record(request, response, seconds, timer)
        return response

    def record(self, request, response, seconds: float, timer: SqlTimer) -> None:
        """Observe the request's latency and SQL time, and write its access line."""
        route = route_of(request)
        if request.resolver_match is None and request.path_info.startswith(self.static_prefix):
            route = STATIC_ROUTE
        method = request.method if request.method in METHODS else "other"
        status = response.status_code
        metrics.REQUEST_DURATION.labels(route, method, str(status)).observe(seconds)
        metrics.REQUEST_DB_DURATION.labels(route).observe(timer.seconds)
        if not access_logger.isEnabledFor(logging.INFO):
            return
        duration_ms = round(seconds * 1000, 2)
        fields = {
            "method": method,
            "route": route,
            "status": status,
            "duration_ms": duration_ms,
            "db_ms": round(timer.seconds * 1000, 2),
            "db_queries": timer.queries,
        }
        # DRF puts the authenticated ApiKey on the request; its prefix names it in lists.
        key = getattr(request, "auth", None)
        if getattr(key, "prefix", None):
            fields["api_key"] = key.prefix
        access_logger.info("%s %s %s %sms", method, route, status, duration_ms, extra=fields)


def _forget_request_id(**kwargs) -> None:
    current_request_id.set(None)


request_finished.connect(_forget_request_id, dispatch_uid="config.observability.request_id")
