"""The person admin's erasure action: a confirmation page, then `erase_person` for each person."""

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from identity.models import Actor, Person
from identity.services.erase import erase_person

PREVIEW = 50


class PersonEraseAction:
    """Erase the selected persons' personal data once the admin confirmed it on a second page.

    Erasure is idempotent, so running it again (or on a merged-away id whose survivor was
    erased) changes nothing; the message counts only the persons erased this time.
    """

    erase_confirmation_template = "admin/identity/person_erase_confirmation.html"

    def has_erase_permission(self, request):
        return request.user.has_perm("identity.delete_person")

    @admin.action(description=_("Erase selected persons (personal data)"), permissions=["erase"])
    def erase_persons(self, request, queryset):
        if "confirm" not in request.POST:
            return self._erase_confirmation_page(request, queryset)
        # A merged-away id erases its survivor (erase_person follows the merge).
        selected = Person.objects.filter(pk__in=queryset.values("pk")).order_by("pk")
        persons = list(selected.only("pk", "merged_into_id"))
        targets = {person.merged_into_id or person.pk for person in persons}
        already = set(
            Person.objects.filter(pk__in=targets, erased_at__isnull=False).values_list(
                "pk", flat=True
            )
        )
        actor = Actor.admin(request.user)
        for person in persons:
            erase_person(person=person, actor=actor)
        erased = len(targets - already)
        message = ngettext(
            "Erased the personal data of %(count)d person.",
            "Erased the personal data of %(count)d persons.",
            erased,
        ) % {"count": erased}
        if already:
            message += " " + ngettext(
                "%(count)d was already erased.", "%(count)d were already erased.", len(already)
            ) % {"count": len(already)}
        self.message_user(request, message, messages.SUCCESS)
        return None

    def _erase_confirmation_page(self, request, queryset):
        count = queryset.count()
        sample = list(queryset.order_by("pk").values_list("public_id", flat=True)[:PREVIEW])
        context = {
            **self.admin_site.each_context(request),
            "title": _("Erase the personal data of persons"),
            "opts": self.model._meta,
            "count": count,
            "sample": sample,
            "more": count - len(sample),
            "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
            "select_across": request.POST.get("select_across", "0"),
            "changelist_url": request.get_full_path(),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, self.erase_confirmation_template, context)
