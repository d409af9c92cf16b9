"""Events: read-only, filtered by type, app and date; no free-text search over millions of rows."""

from functools import cached_property

from django.contrib import admin
from django.core.paginator import Paginator
from django.db import connections

from identity.admin.common import ReadOnlyAdmin
from profiles.models import Event


def estimated_rows(model, using: str) -> int:
    """Return PostgreSQL's estimate of a table's rows (-1 or 0 before the first ANALYZE)."""
    connection = connections[using]
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass", [table])
        row = cursor.fetchone()
    return row[0] if row else -1


class EstimatedCountPaginator(Paginator):
    """Count an unfiltered big table from the planner's estimate instead of a COUNT(*) scan.

    Filtered lists (type, app, date) count exactly: the indexes make that cheap. So do small
    tables, where the estimate may be stale or missing and an exact count costs nothing.
    """

    exact_below = 100_000

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        if not queryset.query.where:
            estimate = estimated_rows(queryset.model, queryset.db)
            if estimate >= self.exact_below:
                return estimate
        return super().count


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    list_display = ("event_id", "type", "app", "person", "occurred_at", "amount", "channel")
    list_select_related = ("app", "person", "type")
    # Every choice list reads a small table (no DISTINCT over events, as RelatedOnly would do).
    list_filter = ("type", "app")
    date_hierarchy = "occurred_at"
    search_fields = ()
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    ordering = ("-occurred_at", "-id")
    fields = (
        "event_id",
        "type",
        "app",
        "person",
        "origin_person_id",
        "identity",
        "occurred_at",
        "received_at",
        "amount",
        "channel",
        "properties",
    )
    readonly_fields = fields
