"""Deletes from the tag and segment admins go through a service, refusals shown as messages."""

from collections.abc import Callable

from django.contrib import messages
from django.http import HttpResponseRedirect
from django.urls import reverse

from identity.admin.common import describe_error
from identity.exceptions import DomainError
from identity.models import Actor


class DeleteThroughService:
    """Route the admin's deletes (one page or the bulk action) to the admin's delete service.

    Admins set `delete_service` to a callable `(obj, actor)` that deletes with its audit entry.
    """

    delete_service: Callable[[object, Actor], None]

    def delete_through_service(self, obj, actor: Actor) -> None:
        type(self).delete_service(obj, actor)

    def delete_model(self, request, obj):
        self.delete_through_service(obj, Actor.admin(request.user))

    def delete_queryset(self, request, queryset):
        actor = Actor.admin(request.user)
        for obj in queryset.order_by("pk"):
            try:
                self.delete_through_service(obj, actor)
            except DomainError as exc:
                self.message_user(request, f"{obj}: {describe_error(exc)}", messages.ERROR)

    def delete_view(self, request, object_id, extra_context=None):
        try:
            return super().delete_view(request, object_id, extra_context)
        except DomainError as exc:  # the admin's transaction rolled back
            self.message_user(request, describe_error(exc), level=messages.ERROR)
            opts = self.model._meta
            return HttpResponseRedirect(
                reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
            )
