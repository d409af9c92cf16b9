from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AnalyticsConfig(AppConfig):
    """Reports for operations (retention, funnels, lifecycle, active users, acquisition, settle
    rate) over the unified person, their REST API, and the admin's Reports area and dashboard."""

    name = "analytics"
    verbose_name = _("Reports")
    default_auto_field = "django.db.models.BigAutoField"
