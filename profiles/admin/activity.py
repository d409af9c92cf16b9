"""Daily activity: read-only, filtered by type, app and day; written by the pipeline only."""

from django.contrib import admin

from identity.admin.common import ReadOnlyAdmin
from profiles.admin.events import EstimatedCountPaginator
from profiles.models import DailyActivity


@admin.register(DailyActivity)
class DailyActivityAdmin(ReadOnlyAdmin):
    list_display = ("day", "person", "type", "app", "count", "amount_total")
    list_select_related = ("app", "person", "type")
    # Choice lists read the small tables; no DISTINCT over the rollup.
    list_filter = ("type", "app")
    date_hierarchy = "day"
    search_fields = ()
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    # Newest days first, along the (day, person) index.
    ordering = ("-day", "-person")
    fields = (
        "day",
        "person",
        "type",
        "app",
        "count",
        "amount_total",
        "origin_person_id",
        "identity_id",
    )
    readonly_fields = fields
