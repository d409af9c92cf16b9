"""Pieces shared by the identity admins."""

from datetime import datetime

from django.contrib import admin, messages
from django.db.models import Model
from django.http import HttpResponseRedirect
from django.utils import formats, timezone

from identity.exceptions import DomainError, InvalidInput

# What the admin shows for a missing value, on the list as on the change pages.
EMPTY = "-"


def local_time(value: datetime | str | None) -> str:
    """Format a time (or an ISO string from an audit entry) in TIME_ZONE, like Django's admin.

    Read-only fields that are functions are shown as str(value), which would be UTC. Every admin
    page says times through this one, so that a time reads the same on each.
    """
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return formats.localize(timezone.template_localtime(value)) if value else EMPTY


def describe_error(exc: DomainError) -> str:
    """Turn a domain error into one line for an admin message, naming the bad fields."""
    if isinstance(exc, InvalidInput) and exc.details:
        fields = "; ".join(
            f"{field}: {' '.join(str(m) for m in msgs)}" for field, msgs in exc.details.items()
        )
        return f"{exc.message} {fields}"
    return exc.message


def adopt(target: Model, source: Model) -> None:
    """Make the admin's unsaved form instance mirror the row a service wrote.

    The admin keeps using the object it passed to `save_model` (for the redirect, the log entry
    and the success message), so it must carry the primary key and values of the stored row.
    """
    for field in source._meta.concrete_fields:
        setattr(target, field.attname, getattr(source, field.attname))
    target._state.adding = False
    target._state.db = source._state.db


class DomainErrorsAsMessages:
    """Show a DomainError raised while saving as an error message instead of a server error.

    The admin saves inside one transaction, which the error rolls back before it reaches here.
    """

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except DomainError as exc:
            self.message_user(request, describe_error(exc), level=messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())


class NoWrites:
    """Deny adding, changing and deleting: the rows are written by services only."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyAdmin(NoWrites, admin.ModelAdmin):
    """An admin that can list and view rows but never add, change or delete them."""


class ReadOnlyInline(NoWrites):
    """An inline that shows related rows without letting the admin add, edit or delete them."""

    extra = 0
    can_delete = False
