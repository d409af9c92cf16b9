"""The URLconf: health check, metrics, WeChat callbacks, admin (and its language switch), the API
schema and each app's API."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from config.health import healthz
from config.metrics_view import MetricsView

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("metrics", MetricsView.as_view(), name="metrics"),
    path("", include("platforms.wechat.urls")),
    path("admin/", admin.site.urls),
    # set_language: the admin header's language switch.
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/v1/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/v1/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("api/v1/", include("identity.api.urls")),
    path("api/v1/", include("platforms.wechat.api.urls")),
    path("api/v1/", include("profiles.api.urls")),
    path("api/v1/", include("analytics.api.urls")),
]

handler404 = "config.api.errors.not_found_view"
handler500 = "config.api.errors.server_error_view"
