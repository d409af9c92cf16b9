"""Merge records: read-only, with an action that undoes merges through `undo_merge`."""

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from identity.admin.common import ReadOnlyAdmin
from identity.exceptions import DomainError
from identity.models import Actor, MergeRecord
from identity.services.undo import undo_merge


@admin.register(MergeRecord)
class MergeRecordAdmin(ReadOnlyAdmin):
    list_display = ("__str__", "survivor", "loser", "reason", "created_at", "undone_at")
    list_select_related = ("survivor", "loser")
    list_filter = ("reason", ("undone_at", admin.EmptyFieldListFilter))
    date_hierarchy = "created_at"
    show_full_result_count = False
    fields = (
        "survivor",
        "loser",
        "reason",
        "actor",
        "created_at",
        "undone_at",
        "undone_by",
        "moved",
    )
    readonly_fields = fields
    actions = ("undo_merges",)

    def has_undo_permission(self, request):
        return request.user.has_perm("identity.change_mergerecord")

    @admin.action(description=_("Undo selected merges"), permissions=["undo"])
    def undo_merges(self, request, queryset):
        actor = Actor.admin(request.user)
        undone = 0
        # Newest first: a chain of merges comes apart in the reverse order it was made.
        for record in queryset.order_by("-created_at", "-pk"):
            if record.undone_at:
                continue
            try:
                undo_merge(record=record, actor=actor)
            except DomainError as exc:
                self.message_user(request, f"{record}: {exc.message}", level=messages.ERROR)
            else:
                undone += 1
        if undone:
            message = ngettext("Undid %(count)d merge.", "Undid %(count)d merges.", undone)
            self.message_user(request, message % {"count": undone}, level=messages.SUCCESS)
