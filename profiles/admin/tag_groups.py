"""Tag groups: saved through `save_tag_group`; an exclusive group that persons break is refused."""

from django.contrib import admin
from django.db.models import Count
from django.utils.translation import gettext_lazy

from identity.admin.common import DomainErrorsAsMessages
from identity.models import Actor
from profiles.admin.deletion import DeleteThroughService
from profiles.admin.forms import ServiceErrorsOnForm
from profiles.models import TagGroup
from profiles.services.definition_removal import delete_tag_group
from profiles.services.definitions import save_tag_group


@admin.register(TagGroup)
class TagGroupAdmin(
    DomainErrorsAsMessages, ServiceErrorsOnForm, DeleteThroughService, admin.ModelAdmin
):
    list_display = ("key", "shown_name", "exclusive", "tag_count")
    list_filter = ("exclusive",)
    search_fields = ("key", "name")
    ordering = ("key",)
    fields = ("key", "name", "exclusive", "description")

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(tag_total=Count("tags"))

    def get_readonly_fields(self, request, obj=None):
        # Audit entries and API answers name the group by its key.
        return () if obj is None else ("key",)

    @admin.display(description=gettext_lazy("name"), ordering="name")
    def shown_name(self, obj):
        return str(obj)  # a preset's name in the operator's language (profiles.presets)

    @admin.display(description=gettext_lazy("tags"), ordering="tag_total")
    def tag_count(self, obj):
        return obj.tag_total

    def save_model(self, request, obj, form, change):
        save_tag_group(group=obj, actor=Actor.admin(request.user))

    def save_related(self, request, form, formsets, change):
        """Write nothing more: save_tag_group did all of it."""

    @staticmethod
    def delete_service(obj, actor):
        delete_tag_group(group=obj, actor=actor)
