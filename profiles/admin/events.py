"""Events: read-only, filtered by type, app and month; no free-text search over millions of rows.

The list reads newest ids first (the primary key's index, one page per partition) and the
month filter is built from the partitions' catalog: neither scans the events, where a date
hierarchy's min/max and distinct dates would read them all.
"""

from datetime import UTC, datetime
from functools import cached_property

from django.contrib import admin
from django.core.paginator import Paginator
from django.db import connections
from django.utils.translation import gettext_lazy as _

from identity.admin.common import ReadOnlyAdmin
from profiles.models import Event
from profiles.services.partitions import event_partitions, partition_of


def estimated_rows(model, using: str) -> int:
    """Return PostgreSQL's estimate of a table's rows (-1 or 0 before the first ANALYZE).

    A partitioned table's estimate is the sum of its partitions' (autovacuum analyzes those,
    never the parent).
    """
    connection = connections[using]
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT CASE WHEN c.relkind = 'p' THEN (SELECT sum(greatest(p.reltuples, 0)) "
            "FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhrelid WHERE i.inhparent = c.oid) "
            "ELSE c.reltuples END::bigint FROM pg_class c WHERE c.oid = %s::regclass",
            [table],
        )
        row = cursor.fetchone()
    return row[0] if row and row[0] is not None else -1


class MonthFilter(admin.SimpleListFilter):
    """One choice per month partition, newest first; choosing one reads that partition only."""

    title = _("month")
    parameter_name = "month"

    def lookups(self, request, model_admin):
        return [(f"{p.start:%Y-%m}", f"{p.start:%Y-%m}") for p in reversed(event_partitions())]

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        try:
            year, month = (int(part) for part in self.value().split("-"))
            partition = partition_of(datetime(year, month, 1, tzinfo=UTC))
        except ValueError:
            return queryset.none()
        return queryset.filter(occurred_at__gte=partition.start, occurred_at__lt=partition.end)


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
    # Every choice list reads a small table or the catalog (no DISTINCT over events, as
    # RelatedOnly or a date hierarchy would do).
    list_filter = ("type", "app", MonthFilter)
    search_fields = ()
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    ordering = ("-id",)
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
