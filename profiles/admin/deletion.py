"""Deletes from the tag and segment admins go through a service, refusals shown as messages."""

from django.contrib import messages
from django.http import HttpResponseRedirect
from django.urls import reverse

from identity.admin.common import describe_error
from identity.exceptions import DomainError
from identity.models import Actor


class DeleteThroughService:
    """Route the admin's deletes (one page or the bulk action) to `delete_through_service`."""

    def delete_through_service(self, obj, actor: Actor) -> None:
        raise NotImplementedError

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
