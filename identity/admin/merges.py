"""Merge records: read-only and in words, undone through `undo_merge` after a confirmation."""

from django.contrib import admin
from django.template.loader import render_to_string
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from identity.admin.common import EMPTY, ReadOnlyAdmin
from identity.admin.merge_parts import moved_rows, person_link
from identity.admin.merge_undo import MergeUndo
from identity.admin.person_filter import MergePersonFilter
from identity.admin.words import stored_actor_in_words
from identity.models import MergeRecord


@admin.register(MergeRecord)
class MergeRecordAdmin(MergeUndo, ReadOnlyAdmin):
    """The record of one merge: who merged whom and why, what moved, whether it was undone.

    `moved` is stored by pk (no personal values in the record); the page reads the values back.
    `?person=<pk>` lists the merges a person won or lost (the person page links there).
    """

    change_form_template = "admin/identity/mergerecord/change_form.html"
    list_display = ("record", "survivor_link", "loser_link", "reason", "created_at", "undone_at")
    list_display_links = ("record",)
    list_select_related = ("survivor", "loser")
    list_filter = (MergePersonFilter, "reason", ("undone_at", admin.EmptyFieldListFilter))
    date_hierarchy = "created_at"
    show_full_result_count = False
    fields = (
        "survivor_link",
        "loser_link",
        "reason",
        "actor_in_words",
        "created_at",
        "undone_at",
        "undone_by_in_words",
        "moved_in_words",
    )
    readonly_fields = fields
    actions = ("undo_merges",)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("survivor", "loser")

    @admin.display(description=_("merge record"), ordering="pk")
    def record(self, obj):
        return gettext("merge #%(number)d") % {"number": obj.pk}

    @admin.display(description=_("survivor"))
    def survivor_link(self, obj):
        return person_link(obj.survivor)

    @admin.display(description=_("loser (merged away)"))
    def loser_link(self, obj):
        return person_link(obj.loser)

    @admin.display(description=_("merged by"))
    def actor_in_words(self, obj):
        return stored_actor_in_words(obj.actor)

    @admin.display(description=_("undone by"))
    def undone_by_in_words(self, obj):
        return stored_actor_in_words(obj.undone_by) if obj.undone_by else EMPTY

    @admin.display(description=_("moved from the loser"))
    def moved_in_words(self, obj):
        return render_to_string("admin/identity/includes/part_rows.html", {"rows": moved_rows(obj)})

    def change_view(self, request, object_id, form_url="", extra_context=None):
        record = self.get_object(request, object_id)
        extra = {
            "can_undo": bool(record and not record.undone_at and self.has_undo_permission(request))
        }
        return super().change_view(request, object_id, form_url, {**extra, **(extra_context or {})})
