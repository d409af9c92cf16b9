"""Liveness and readiness probe for load balancers, with the background worker's state.

`status` and the HTTP status are the web's: 200 while the database answers, 503 when it does
not. The worker's state rides along without changing them: with the worker "lagging" or
"down" the web still accepts events (they wait for the worker, which catches up when it
returns), so a load balancer must keep sending traffic; monitoring alerts on `worker`.
"""

import logging

from django.http import JsonResponse
from django.views.decorators.http import require_GET

from config.middleware import database_unavailable_response
from jobs.selectors import queue_health

logger = logging.getLogger(__name__)


@require_GET
def healthz(request):
    """Answer the database's and the worker's state; needs no credentials.

    One statement (the queue's indexed counts, the newest worker heartbeat, the pending
    events), which also proves the database answers. `worker` is "down" without a heartbeat
    for JOBS_WORKER_DOWN_SECONDS, "lagging" when a due job or pending events waited longer
    than JOBS_LAG_SECONDS, else "ok"; `queue` gives the numbers (ages in seconds, null when
    nothing waits).
    """
    try:
        health = queue_health()
    except Exception as exc:
        logger.warning("health check failed: %s", type(exc).__name__)
        response = database_unavailable_response()
        response.content = b'{"status": "unavailable", "database": "unavailable"}'
        return response
    return JsonResponse({"status": "ok", "database": "ok", **health.as_dict()})
