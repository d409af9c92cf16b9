"""Add or remove one manual tag on the person page, through the tag services.

Two admin views (POST only, CSRF-checked by the admin site) under the person's URL, the forms
they answer (profiles/templates/admin/profiles/person/), and the context that draws them. The
services refuse rule tags and expiries in the past; their errors come back as messages.
"""

from typing import Any, NamedTuple

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
)
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from identity.admin.common import describe_error
from identity.admin.person_extensions import person_extension_url
from identity.exceptions import DomainError
from identity.models import Actor, Person
from profiles.admin.person_tags import can_tag
from profiles.models import Tag, TagKind, TagSource
from profiles.presets import tag_name
from profiles.services.tags import assign_tags, remove_tag

FORMS_TEMPLATE = "admin/profiles/person/tag_forms.html"


class PersonTagForm(forms.Form):
    # Any key: the service says why a rule tag or an unknown one cannot be given by hand.
    tag = forms.CharField(label=gettext_lazy("tag"), max_length=32)
    expires_at = forms.DateTimeField(label=gettext_lazy("expires at"), required=False)


class TagChoice(NamedTuple):
    """A manual tag as the add form offers it: its key, and its name as staff read it."""

    key: str
    name: str


def _manual_tag_choices() -> list[TagChoice]:
    """The manual tags by shown name: a preset's in the operator's language (profiles.presets)."""
    tags = Tag.objects.filter(kind=TagKind.MANUAL).values_list("key", "name")
    return sorted((TagChoice(key, tag_name(key, name)) for key, name in tags), key=lambda c: c.name)


def _shown_name(key: str) -> str:
    """The tag's name as `Tag.__str__` shows it, or the key when there is no such tag."""
    name = Tag.objects.filter(key=key).values_list("name", flat=True).first()
    return key if name is None else tag_name(key, name)


def _editable(person: Person) -> bool:
    return person.merged_into_id is None and person.erased_at is None


def tag_editor_context(request: HttpRequest, person: Person) -> dict[str, Any]:
    """What the tag inline and the forms need: whether to offer them, and the manual tags."""
    can_edit = can_tag(request) and _editable(person)
    return {
        "person_tag_editor": {
            "can_edit": can_edit,
            "manual_tags": _manual_tag_choices() if can_edit else [],
            "add_url": person_extension_url("profiles", "tag-add", person.pk),
            "remove_url": person_extension_url("profiles", "tag-remove", person.pk),
        }
    }


def _person_or_refuse(model_admin, request: HttpRequest, object_id: str) -> Person:
    if not (model_admin.has_view_permission(request) and can_tag(request)):
        raise PermissionDenied
    if not object_id.isdigit():
        raise Http404(_("No such person."))
    return get_object_or_404(Person, pk=int(object_id))


def _form_errors(form: forms.Form) -> str:
    """One line naming each bad field, as the admin's other messages do."""
    return "; ".join(
        f"{capfirst(form.fields[name].label)}: {' '.join(errors)}"
        for name, errors in form.errors.items()
    )


def _edit(model_admin, request: HttpRequest, object_id: str, *, adding: bool) -> HttpResponse:
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    person = _person_or_refuse(model_admin, request, object_id)
    back = HttpResponseRedirect(reverse("admin:identity_person_change", args=[person.pk]))
    if not _editable(person):
        model_admin.message_user(
            request,
            _("This person was merged away or erased: its tags cannot change."),
            messages.ERROR,
        )
        return back
    form = PersonTagForm(request.POST)
    if not form.is_valid():
        model_admin.message_user(request, _form_errors(form), messages.ERROR)
        return back
    key, actor = form.cleaned_data["tag"], Actor.admin(request.user)
    name = _shown_name(key)
    try:
        if adding:
            assign_tags(
                person=person,
                keys=[key],
                actor=actor,
                source=TagSource.ADMIN,
                expires_at=form.cleaned_data["expires_at"],
            )
            message = _("Added tag “%(tag)s”.")
        else:
            held = remove_tag(person=person, key=key, actor=actor)
            message = (
                _("Removed tag “%(tag)s”.") if held else _("The person did not hold “%(tag)s”.")
            )
    except DomainError as exc:
        model_admin.message_user(request, describe_error(exc), messages.ERROR)
        return back
    model_admin.message_user(request, message % {"tag": name}, messages.SUCCESS)
    return back


def add_tag_view(model_admin, request: HttpRequest, object_id: str) -> HttpResponse:
    return _edit(model_admin, request, object_id, adding=True)


def remove_tag_view(model_admin, request: HttpRequest, object_id: str) -> HttpResponse:
    return _edit(model_admin, request, object_id, adding=False)


# The extension's views (PersonAdminExtension.views), under <person>/profiles/<key>/.
TAG_VIEWS = {"tag-add": add_tag_view, "tag-remove": remove_tag_view}
