"""Audit entries: read-only, searched by exact target only."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from identity.admin.common import ReadOnlyAdmin
from identity.models import AuditEntry


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "actor_type", "actor", "action", "target")
    list_filter = ("action", "actor_type")
    date_hierarchy = "created_at"
    search_fields = ("=target",)  # shows the search box; get_search_results does the work
    search_help_text = _("Exact target: a person's public id, an appid or an API key.")
    show_full_result_count = False
    fields = (
        "created_at",
        "actor_type",
        "actor",
        "action",
        "person",
        "target",
        "before",
        "after",
    )
    readonly_fields = fields

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        return queryset.filter(target=term), False
