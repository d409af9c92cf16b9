"""The admin's Reports area (one page per report, CSV, save a cell as a tag) and the dashboard
on the admin index.

The index template is set on the site rather than overriding `admin/index.html` by name:
django.contrib.admin comes first in INSTALLED_APPS, so its own template would win the lookup.
Ours extends it and puts the dashboard above the app list.
"""

from django.contrib import admin

from analytics.admin import reports

admin.site.index_template = "admin/analytics/index.html"

__all__ = ["reports"]
