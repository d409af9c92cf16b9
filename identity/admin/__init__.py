"""Django admin of the identity graph; every write goes through a service function."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from identity.admin import api_keys, audit, client_apps, merges, persons

admin.site.site_header = _("Unified identity")
admin.site.site_title = _("Unified identity")
admin.site.index_title = _("Administration")
# No public site stands behind the admin: Django's "View site" link (to /) met a 404.
admin.site.site_url = None

__all__ = ["api_keys", "audit", "client_apps", "merges", "persons"]
