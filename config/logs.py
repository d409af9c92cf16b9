"""Log records as JSON lines, with the request id, and without personal data.

LOGGING (config/settings.py) picks the formatter by LOG_FORMAT: `json` (the default), one
object per line that a log pipeline reads without parsing prose: `time` (UTC, ISO 8601),
`level`, `logger`, `message`, `request_id` inside a request, and the record's extra fields
(the access line's `route`, `status`, `duration_ms`, ...); `plain` for the classic text line.

The filters of this module sit on the handler, so that they see every record, those that
propagate from any library too:
- `RequestIdFilter` adds the id of the request being served (config/observability.py sets it),
  so that every line of one request can be found by the id its caller got back.
- `RequestPathFilter`: Django logs each 4xx and 5xx answer with the request's path ("Not Found:
  /api/v1/persons/<id>"), and paths carry public person ids; it logs the URL pattern instead.
  The request object Django attaches is never serialized (its repr has the query string, where
  a lookup's phone number is): the JSON formatter leaves it out.
- `RunserverRequestLineFilter` drops the development server's own request lines (`make run`),
  which quote the query string; the access line says the same without it.
"""

import logging
from contextvars import ContextVar

from django.http import HttpRequest
from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

current_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
"""The id of the request this thread serves, None outside a request."""

UNMATCHED_ROUTE = "(unmatched)"
STATIC_ROUTE = "(static)"

# Record attributes never written out: the standard ones are fields already or noise; Django's
# `request` (an HttpRequest, or the development server's socket) and `server_time` are not data.
_LEFT_OUT = [*RESERVED_ATTRS, "request", "server_time", "taskName"]


def route_of(request: HttpRequest) -> str:
    """Name a request by its URL pattern, never by its path (paths hold person ids)."""
    match = getattr(request, "resolver_match", None)
    if match is not None:
        return match.route
    return UNMATCHED_ROUTE


def json_formatter() -> JsonFormatter:
    """The JSON lines formatter of LOG_FORMAT=json (a `()` factory of LOGGING)."""
    return JsonFormatter(
        "{levelname}{name}{message}",
        style="{",
        rename_fields={"levelname": "level", "name": "logger"},
        timestamp="time",
        # `time` comes first in each line: a default's key keeps its place when the timestamp
        # fills it in.
        defaults={"time": None},
        reserved_attrs=_LEFT_OUT,
    )


class RequestIdFilter(logging.Filter):
    """Add `request_id` to every record made while a request is served."""

    def filter(self, record: logging.LogRecord) -> bool:
        request_id = current_request_id.get()
        if request_id is not None:
            record.request_id = request_id
        return True


class RequestPathFilter(logging.Filter):
    """Replace the request's path by its URL pattern in the records Django makes of answers."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = record.__dict__.get("request")
        if isinstance(request, HttpRequest) and isinstance(record.args, tuple):
            path = request.path
            # Django's log_response escapes its arguments: match either form.
            paths = {path, path.encode("unicode_escape").decode("ascii")}
            route = route_of(request)
            record.args = tuple(
                route if isinstance(arg, str) and arg in paths else arg for arg in record.args
            )
        return True


class RunserverRequestLineFilter(logging.Filter):
    """Drop `django.server`'s per-request lines; its other records (errors) pass."""

    # http.server's BaseHTTPRequestHandler.log_request: request line, status, size.
    REQUEST_LINE = '"%s" %s %s'

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.name == "django.server" and record.msg == self.REQUEST_LINE)
