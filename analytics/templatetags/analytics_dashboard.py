"""`{% analytics_dashboard %}`: the dashboard on the admin index (admin/analytics/index.html).

A tag rather than a wrapped index view: the numbers are read only when the index renders, and
a failure here leaves the app list in place.
"""

import logging

from django import template

from analytics.admin.dashboard import dashboard_context

logger = logging.getLogger(__name__)
register = template.Library()


@register.inclusion_tag("admin/analytics/dashboard.html", takes_context=True)
def analytics_dashboard(context):
    try:
        return dashboard_context(context["request"])
    except Exception as exc:  # the index page must render whatever happens here
        logger.error("The dashboard failed: %s", type(exc).__name__)
        return {"show": False}
