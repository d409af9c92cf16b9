"""`GET /metrics`: the Prometheus exposition, for an API key with the `metrics:read` scope.

Protected like every API endpoint (401 without a key, 403 `scope_missing` without the scope)
rather than on a port of its own: one listener to deploy, and the key that Prometheus holds is
revoked in the admin like any other. The metrics carry no personal data (config/metrics.py),
but they tell the traffic of each endpoint and the state of the queue, which is not public.

Left out of the OpenAPI schema: it is the operators' endpoint, in Prometheus's text format,
not part of the API that backends program against (docs/observability.md describes it).
"""

from django.http import HttpResponse
from drf_spectacular.utils import extend_schema
from prometheus_client.exposition import choose_encoder
from rest_framework.views import APIView

from config import metrics
from config.api.auth import ApiKeyAuthentication
from config.api.permissions import HasScopes
from config.api.scopes import METRICS_READ


class MetricsView(APIView):
    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [HasScopes]
    required_scopes = {"GET": METRICS_READ}

    def perform_content_negotiation(self, request, force=False):
        # Prometheus asks for its text formats, which no API renderer offers: the metrics
        # answer is written below, and an error answer is the API's JSON whatever was asked.
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(exclude=True)
    def get(self, request):
        encoder, content_type = choose_encoder(request.META.get("HTTP_ACCEPT", ""))
        return HttpResponse(encoder(metrics.scrape_registry()), content_type=content_type)
