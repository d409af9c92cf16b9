"""The person admin's manual merge: a preview of the result, then `merge_persons` on confirmation.

Staff merge two persons that the identifiers could not link (the same customer on two phones'
mini-programs, say). The preview runs the merge's own checks without writing, so it shows the
refusal the merge would give instead of a button; the merge checks again under its locks.
The confirmation carries the preview's fingerprint back: when the persons changed since (one was
merged into a third, gained an identifier, ...), it shows the preview again instead of merging.
"""

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db import transaction
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from identity.admin.common import describe_error
from identity.admin.merge_parts import person_link, person_rows
from identity.exceptions import DomainError
from identity.merge_reads import MergePreview, merge_preview, previewed_pks
from identity.models import Actor, App, MergeReason, MergeRecord, Person
from identity.services.locking import lock_persons
from identity.services.merge import merge_persons

FINGERPRINT = "merge_fingerprint"  # the form field that carries the preview's fingerprint
CHANGED = gettext_lazy(
    "These persons changed since you looked: here is the merge as it would be now. "
    "Nothing was merged."
)

REFUSALS = {
    "already_one": gettext_lazy("The two selected persons are already one person."),
    "erased": gettext_lazy("A selected person was erased; an erased person cannot be merged."),
    "conflict": gettext_lazy("These two persons cannot be merged:"),
}


def conflicts_in_words(conflicts: dict[str, object]) -> list[str]:
    """MergeConflict's details as sentences naming apps by name (staff see every app)."""
    lines = []
    if conflicts.get("apps"):
        names = dict(App.objects.filter(appid__in=conflicts["apps"]).values_list("appid", "name"))
        for appid in conflicts["apps"]:
            lines.append(
                _("Both persons hold an openid in %(app)s: a person has one openid per app.")
                % {"app": f"{names.get(appid, appid)} ({appid})"}
            )
    for platform in conflicts.get("unionid_platforms", []):
        lines.append(
            _("Both persons hold a %(platform)s unionid: a person has one per platform.")
            % {"platform": platform}
        )
    if conflicts.get("phone"):
        lines.append(_("Both persons hold a different phone number: a person has one."))
    return lines


class PersonMergeAction:
    """Merge exactly two selected persons into the older one, after a preview."""

    merge_confirmation_template = "admin/identity/person/merge_confirm.html"

    def has_merge_permission(self, request):
        return request.user.has_perm("identity.change_person")

    @admin.action(description=gettext_lazy("Merge the two selected persons"), permissions=["merge"])
    def merge_two_persons(self, request, queryset):
        pks = list(queryset.order_by("pk").values_list("pk", flat=True)[:3])
        if len(pks) != 2:
            self.message_user(
                request, _("Select exactly two persons to merge them."), messages.WARNING
            )
            return None
        if "confirm" not in request.POST:
            return self._merge_preview_page(request, pks, merge_preview(*pks))
        seen = request.POST.get(FINGERPRINT, "")
        try:
            outcome = _merge_as_previewed(pks, seen, Actor.admin(request.user))
        except DomainError as exc:  # the merge's own checks, under its locks
            self.message_user(request, describe_error(exc), messages.ERROR)
            return None
        if isinstance(outcome, MergePreview):
            changed = bool(seen) or not outcome.refusal  # a forged confirmation: the refusal only
            return self._merge_preview_page(request, pks, outcome, changed=changed)
        record = outcome
        message = _("Merged %(loser)s into %(survivor)s.") % {
            "loser": record.loser.public_id,
            "survivor": record.survivor.public_id,
        }
        self.message_user(request, message, messages.SUCCESS)
        url = reverse("admin:identity_person_change", args=[record.survivor_id])
        return HttpResponseRedirect(url)

    def _merge_preview_page(self, request, pks, preview: MergePreview, *, changed=False):
        refusal = str(REFUSALS.get(preview.refusal, ""))
        sides = []
        if preview.survivor is not None:
            for role, person in (
                (_("Survives (the older person)"), preview.survivor),
                (_("Merged into the survivor (its id then points there)"), preview.loser),
            ):
                rows = person_rows(person, preview.app_names)
                sides.append({"role": role, "link": person_link(person), "rows": rows})
        context = {
            **self.admin_site.each_context(request),
            "title": _("Merge two persons"),
            "opts": self.model._meta,
            "preview": preview,
            "sides": sides,
            "refusal": refusal,
            "changed": str(CHANGED) if changed else "",
            "fingerprint_name": FINGERPRINT,
            "conflicts": conflicts_in_words(preview.conflicts),
            "selected": pks,
            "action": "merge_two_persons",
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "changelist_url": request.get_full_path(),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, self.merge_confirmation_template, context)


def _merge_as_previewed(pks: list[int], seen: str, actor: Actor) -> MergeRecord | MergePreview:
    """Merge the selected persons if they are still what the preview fingerprinted as `seen`;
    else return the preview as it is now, having merged nothing.

    The previewed persons are locked first, so that none is merged away or changed between
    this check and the merge (which locks the same rows again).
    """
    with transaction.atomic():
        if shown := previewed_pks(seen):
            lock_persons(*shown)
        preview = merge_preview(*pks)
        if preview.refusal or preview.fingerprint != seen:
            return preview
        return merge_persons(
            first=Person(pk=preview.survivor.pk),
            second=Person(pk=preview.loser.pk),
            reason=MergeReason.MANUAL,
            actor=actor,
        )
