"""The live count of the condition builder: POST a condition, get how many live persons match.

A small JSON endpoint for staff (mounted by the tag admin, used by the tag and segment forms):
`{"condition": {...}, "tag": "key of the rule tag being edited, if any"}` answers
`{"count": N}`, or 400 with `{"errors": [{"field", "path", "message"}]}` where `path` is the
list of keys and indexes of the node concerned (`["all", 2, "value"]`), so that the builder
shows each message at its row. The builder asks 400 ms after each edit, so the count has its
own, short timeout (CONDITION_COUNT_TIMEOUT_MS; a count stopped by it answers 503), and each
staff user has one count in flight: a request the browser gave up on still runs until it ends,
and another from the same user meanwhile answers 429 (the builder asks again). Staff without
view or change permission on segments or tags get 403.
"""

import json
import logging
from collections.abc import Callable

from django.conf import settings
from django.contrib.admin import AdminSite
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from psycopg import errors as pg_errors

from profiles.conditions import ConditionInvalid
from profiles.selectors import count_condition_matches

logger = logging.getLogger(__name__)

# A 429's Retry-After: the try is one lock probe, cheap to repeat until the other count ends.
BUSY_RETRY_SECONDS = 1
# Any of these lets staff count, as any of them shows them a tag or segment form.
COUNT_PERMISSIONS = (
    "profiles.view_segment",
    "profiles.change_segment",
    "profiles.view_tag",
    "profiles.change_tag",
)


def _errors(status: int, *errors: dict) -> JsonResponse:
    return JsonResponse({"errors": list(errors)}, status=status)


def _error(message: str, *, field: str | None = None, path: list | None = None) -> dict:
    return {"field": field, "path": path or [], "message": message}


def count_endpoint(admin_site: AdminSite) -> Callable[[HttpRequest], HttpResponse]:
    """The count view, behind the admin's login, CSRF check and no-cache headers.

    A request without a staff login gets 403 in JSON rather than the login page: the caller
    is a script, which could not show that page.
    """
    protected = admin_site.admin_view(require_POST(count_view))

    def view(request: HttpRequest) -> HttpResponse:
        if not admin_site.has_permission(request):
            return _errors(403, _error(_("Log in to the admin as staff to count persons.")))
        return protected(request)

    return view


def count_view(request: HttpRequest) -> HttpResponse:
    """Validate the posted condition as saving would, then count its live persons."""
    if not any(request.user.has_perm(permission) for permission in COUNT_PERMISSIONS):
        return _errors(403, _error(_("You may not view segments or tags.")))
    try:
        body = json.loads(request.body)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return _errors(400, _error(_("The request body is not valid JSON."), field="body"))
    if not isinstance(body, dict) or "condition" not in body:
        message = _("Send an object with the condition under “condition”.")
        return _errors(400, _error(message, field="condition"))
    tag = body.get("tag")
    if tag is not None and not isinstance(tag, str):
        return _errors(400, _error(_("The tag must be a tag key or absent."), field="tag"))
    timeout_ms = settings.CONDITION_COUNT_TIMEOUT_MS
    try:
        count = count_condition_matches(
            body["condition"],
            forbidden_tag=tag or None,
            timeout_ms=timeout_ms,
            one_at_a_time_key=request.user.pk,
        )
    except ConditionInvalid as exc:
        return _errors(
            400,
            *(_error(message, field="condition", path=path) for path, message in exc.located),
        )
    except DatabaseError as exc:  # rolled back; its text may quote values: the class only
        if isinstance(exc.__cause__, pg_errors.QueryCanceled):
            message = _(
                "Counting took longer than %(ms)s ms and was stopped. "
                "The condition can still be saved."
            ) % {"ms": timeout_ms}
            return _errors(503, _error(message))
        logger.warning("Condition count failed: %s", type(exc).__name__)
        return _errors(503, _error(_("The count failed; try again later.")))
    if count is None:
        message = _("Your previous count is still running; counting again in a moment.")
        response = _errors(429, _error(message))
        response["Retry-After"] = str(BUSY_RETRY_SECONDS)
        return response
    return JsonResponse({"count": count})
