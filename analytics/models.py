"""The admin's "Reports" area: a model without a table, so that it has an app-list entry and
permissions.

The reports are computed from events and daily activity (analytics/reports/); nothing of
theirs is stored. Like jobs' ScheduledJob page, the admin hangs its pages on this model: its
view permission opens the report pages and the dashboard, `save_report_cell` lets staff save a
report cell as a manual tag (which creates tags and tags many persons at once, so it is granted
on its own rather than implied by the tag-assignment permissions).
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Report(models.Model):
    """Never queried: the admin's report pages are views over analytics.reports."""

    class Meta:
        managed = False
        verbose_name = _("report")
        verbose_name_plural = _("reports")
        default_permissions = ("view",)
        permissions = [("save_report_cell", _("Can save a report cell as a tag"))]

    def __str__(self) -> str:
        return f"report #{self.pk}"
