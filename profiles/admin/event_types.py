"""Event types: registered and edited through services; built-in and used types stay."""

from django import forms
from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from identity.admin.common import DomainErrorsAsMessages, adopt, describe_error
from identity.exceptions import DomainError
from identity.models import Actor
from profiles.models import EventType
from profiles.services.event_types import (
    delete_event_type,
    event_type_in_use,
    register_event_type,
    update_event_type,
)


class EventTypeAddForm(forms.ModelForm):
    class Meta:
        model = EventType
        fields = ["key", "name", "description"]


@admin.register(EventType)
class EventTypeAdmin(DomainErrorsAsMessages, admin.ModelAdmin):
    list_display = ("key", "shown_name", "builtin", "is_active")
    list_filter = ("builtin", "is_active")
    ordering = ("key",)

    @admin.display(description=_("name"), ordering="name")
    def shown_name(self, obj):
        return obj.shown_name

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = EventTypeAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("key", "name", "description")
        return ("key", "name", "description", "is_active", "builtin", "created_at")

    def get_readonly_fields(self, request, obj=None):
        # The key is the primary key: editing it would copy the row under a new key.
        return () if obj is None else ("key", "builtin", "created_at")

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.builtin:
            return False
        return super().has_delete_permission(request, obj)

    def save_model(self, request, obj, form, change):
        actor = Actor.admin(request.user)
        data = form.cleaned_data
        if change:
            stored = update_event_type(
                event_type=obj,
                name=data["name"],
                description=data["description"],
                is_active=data["is_active"],
                actor=actor,
            )
        else:
            stored = register_event_type(
                key=data["key"], name=data["name"], description=data["description"], actor=actor
            )
        adopt(obj, stored)

    def save_related(self, request, form, formsets, change):
        """Write nothing more: the services above did all of it."""

    def get_deleted_objects(self, objs, request):
        """Name the types that events, rollups or stats protect, without listing those rows.

        The default collector would load every protected event (millions) to list it.
        """
        protected = [
            _("Event type %(key)s is used by events or stats.") % {"key": obj.key}
            for obj in objs
            if event_type_in_use(obj)
        ]
        if protected:
            return [], {}, set(), protected
        return super().get_deleted_objects(objs, request)

    def delete_model(self, request, obj):
        delete_event_type(event_type=obj, actor=Actor.admin(request.user))

    def delete_queryset(self, request, queryset):
        actor = Actor.admin(request.user)
        for event_type in queryset.order_by("pk"):
            try:
                delete_event_type(event_type=event_type, actor=actor)
            except DomainError as exc:  # a race: the type got events after the check
                message = f"{event_type.key}: {describe_error(exc)}"
                self.message_user(request, message, level=messages.ERROR)

    def delete_view(self, request, object_id, extra_context=None):
        try:
            return super().delete_view(request, object_id, extra_context)
        except DomainError as exc:  # a race: the type got events after the check
            self.message_user(request, describe_error(exc), level=messages.ERROR)
            return HttpResponseRedirect(reverse("admin:profiles_eventtype_changelist"))
