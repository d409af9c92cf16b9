"""Liveness and readiness probe for load balancers."""

from django.db import connection
from django.http import JsonResponse
from django.views.decorators.http import require_GET

from config.middleware import database_unavailable_response


@require_GET
def healthz(request):
    """Answer ok when the database answers a trivial query; needs no credentials."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception:
        response = database_unavailable_response()
        response.content = b'{"status": "unavailable", "database": "unavailable"}'
        return response
    return JsonResponse({"status": "ok", "database": "ok"})
