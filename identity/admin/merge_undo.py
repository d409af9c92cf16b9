"""Undoing merges from the admin, always after a page that says what will come apart.

Two ways in, one confirmation: the list's action for the selected records, and the "Undo this
merge" button of a record's page (its own URL). Refusals of `undo_merge` (UndoConflict and
the other domain errors) become messages; nothing is undone without the confirming POST.
"""

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from identity.admin.common import describe_error
from identity.admin.merge_parts import moved_rows_many, person_link
from identity.exceptions import DomainError
from identity.models import Actor, MergeRecord
from identity.services.undo import undo_merge

PREVIEW = 20


class MergeUndo:
    """The undo action and the per-record undo view of the merge record admin."""

    undo_confirmation_template = "admin/identity/mergerecord/undo_confirm.html"

    def has_undo_permission(self, request, obj=None):
        return request.user.has_perm("identity.change_mergerecord")

    def get_urls(self):
        view = self.admin_site.admin_view(self.undo_view)
        return [
            path("<int:object_id>/undo/", view, name="identity_mergerecord_undo"),
            *super().get_urls(),
        ]

    @admin.action(description=gettext_lazy("Undo selected merges"), permissions=["undo"])
    def undo_merges(self, request, queryset):
        # Newest first: a chain of merges comes apart in the reverse order it was made.
        records = list(queryset.filter(undone_at__isnull=True).order_by("-created_at", "-pk"))
        if "confirm" not in request.POST:
            return self._undo_page(
                request,
                records,
                selected=request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
                select_across=request.POST.get("select_across", "0"),
                back=request.get_full_path(),
            )
        self._undo(request, records)
        return None

    def undo_view(self, request, object_id: int):
        if not self.has_undo_permission(request):
            raise PermissionDenied
        record = (
            MergeRecord.objects.select_related("survivor", "loser").filter(pk=object_id).first()
        )
        if record is None:
            raise Http404
        back = reverse("admin:identity_mergerecord_change", args=[record.pk])
        if request.method == "POST":
            self._undo(request, [record])
            return HttpResponseRedirect(back)
        if record.undone_at:
            self.message_user(request, _("This merge was already undone."), messages.WARNING)
            return HttpResponseRedirect(back)
        return self._undo_page(request, [record], selected=None, select_across="0", back=back)

    def _undo(self, request, records: list[MergeRecord]) -> None:
        actor = Actor.admin(request.user)
        undone = 0
        for record in records:
            try:
                undo_merge(record=record, actor=actor)
            except DomainError as exc:
                self.message_user(request, f"{record}: {describe_error(exc)}", messages.ERROR)
            else:
                undone += 1
        if undone:
            message = ngettext("Undid %(count)d merge.", "Undid %(count)d merges.", undone)
            self.message_user(request, message % {"count": undone}, messages.SUCCESS)

    def _undo_page(self, request, records, *, selected, select_across: str, back: str):
        more = max(len(records) - PREVIEW, 0)
        rows = moved_rows_many(records[:PREVIEW])
        shown = [
            {
                "record": record,
                "survivor": person_link(record.survivor),
                "loser": person_link(record.loser),
                "rows": rows[record.pk],
            }
            for record in records[:PREVIEW]
        ]
        context = {
            **self.admin_site.each_context(request),
            "title": _("Undo merges"),
            "opts": self.model._meta,
            "records": shown,
            "more": more,
            "selected": selected,
            "select_across": select_across,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "back_url": back,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, self.undo_confirmation_template, context)
