"""Pending events: what waits for the worker, and the rows it had to set aside (read-only)."""

from django.contrib import admin

from identity.admin.common import ReadOnlyAdmin
from profiles.models import PendingEvents


@admin.register(PendingEvents)
class PendingEventsAdmin(ReadOnlyAdmin):
    list_display = ("id", "event_count", "accepted_at", "source", "failed_at", "error")
    list_filter = ("source", ("failed_at", admin.EmptyFieldListFilter))
    search_fields = ()
    ordering = ("id",)
    # The event ids are not shown: they lead to persons; the count and the error say enough.
    fields = ("event_count", "accepted_at", "source", "actor_type", "failed_at", "error")
