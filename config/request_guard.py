"""Refuse NUL characters in a request before any view can hand them to PostgreSQL.

PostgreSQL text cannot hold NUL (0x00) and psycopg raises on a query parameter holding one: an
admin filter (`?tag=%00`, `?action=%00`), the change page of a text key, a session cookie of
NULs, each was a 500. One check here covers every view, including those still to be written.
"""

from django.core.exceptions import BadRequest, SuspiciousOperation
from django.http import Http404, JsonResponse, QueryDict
from django.http.multipartparser import MultiPartParserError

NUL = "\x00"
FORM_TYPES = {"application/x-www-form-urlencoded", "multipart/form-data"}


class RefuseNulMiddleware:
    """Answer 400 for NUL in a query or form parameter, 404 for NUL in the path.

    The 400 is in the API's error format and names the parameter, like the site's 404 and 500
    answers (config.api.errors); the API's own checks would say the same, so its clients see
    no difference. A path with NUL names no page. A cookie with NUL cannot be one the service
    set: it is dropped, so that a browser holding one is not locked out.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if NUL in request.path_info:
            raise Http404
        for name in [name for name, value in request.COOKIES.items() if NUL in name + value]:
            del request.COOKIES[name]
        details = {**_nul_fields(request.GET, "query"), **_nul_fields(_form(request), "form")}
        if details:
            body = {"code": "invalid", "message": "Some fields are invalid.", "details": details}
            return JsonResponse({"error": body}, status=400)
        return self.get_response(request)


def _form(request) -> QueryDict:
    """The fields of a form body; none for other bodies (JSON is the API parser's to check) or
    for a body that cannot be parsed, which the view then meets as it would without this."""
    if request.method != "POST" or request.content_type not in FORM_TYPES:
        return QueryDict()
    try:
        # The raw body first: parsing a multipart form straight from the stream would use it
        # up, and a view that reads `request.body` (the WeChat callback) would then fail.
        request.body  # noqa: B018
        return request.POST
    except (SuspiciousOperation, BadRequest, MultiPartParserError, OSError):
        return QueryDict()


def _nul_fields(params: QueryDict, where: str) -> dict[str, list[str]]:
    """Name each parameter whose value holds NUL; a NUL in a name is reported as `where`."""
    details = {}
    for name, values in params.lists():
        if NUL in name:
            details[where] = [f"Null characters are not allowed in {where} parameter names."]
        elif any(NUL in value for value in values):
            details[name] = ["Null characters are not allowed."]
    return details
