"""Tags on the person pages: the assignments inline and the bulk "add/remove tag" actions.

Assignments are read-only here: they change through `bulk_assign_tag` / `bulk_remove_tag`
(these actions), the person page's own form (person_tag_edit.py) or the API, each with its
audit entry.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.widgets import AutocompleteSelect
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from identity.admin.common import EMPTY, describe_error
from identity.admin.person_inlines import PersonInline
from identity.admin.words import stored_actor_in_words
from identity.exceptions import DomainError
from identity.models import Actor, Person
from profiles.models import Tag, TagAssignment, TagKind, TagSource
from profiles.services.tags import bulk_assign_tag, bulk_remove_tag

PREVIEW = 50


def describe_assigner(assignment: TagAssignment) -> str:
    """Name who gave the tag: its rule, or the actor (stored as "type:label") as every page does."""
    if assignment.source == TagSource.RULE:
        return _("rule ‘%(tag)s’") % {"tag": assignment.tag}  # noqa: RUF001
    return stored_actor_in_words(assignment.assigned_by) if assignment.assigned_by else EMPTY


class TagAssignmentInline(PersonInline):
    model = TagAssignment
    fields = ("tag", "source", "assigner", "assigned_at", "expires_at", "is_active")
    readonly_fields = fields
    verbose_name_plural = _("tags (active and expired)")
    # With a remove button on each manual tag and the form that adds one (person_tag_edit.py).
    template = "admin/profiles/person/tag_inline.html"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("tag").order_by("-assigned_at")

    @admin.display(description=_("assigned by"))
    def assigner(self, obj):
        return describe_assigner(obj)

    @admin.display(boolean=True, description=_("active"))
    def is_active(self, obj):
        return obj.expires_at is None or obj.expires_at > timezone.now()


class RemoveTagForm(forms.Form):
    # The autocomplete asks TagAdmin, which offers only manual tags to this field.
    tag = forms.ModelChoiceField(
        label=capfirst(_("tag")),
        queryset=Tag.objects.filter(kind=TagKind.MANUAL),
        widget=AutocompleteSelect(TagAssignment._meta.get_field("tag"), admin.site),
        help_text=_("Manual tags only: rule tags follow their condition."),
    )


class AddTagForm(RemoveTagForm):
    expires_at = forms.DateTimeField(
        label=capfirst(_("expires at")),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text=_("Optional. The tag stops counting after this time."),
    )

    def clean_expires_at(self):
        value = self.cleaned_data["expires_at"]
        if value is not None and value <= timezone.now():
            raise forms.ValidationError(_("Must be in the future."))
        return value


TAG_ACTION_TEMPLATE = "admin/profiles/person_tag_action.html"


def can_tag(request) -> bool:
    """Answer the person admin's has_tag_permission, which the two actions require."""
    return request.user.has_perm("profiles.change_tagassignment")


@admin.action(description=_("Add tag…"), permissions=["tag"])
def add_tag(model_admin, request, queryset):
    return _tag_action(model_admin, request, queryset, AddTagForm, "add_tag")


@admin.action(description=_("Remove tag…"), permissions=["tag"])
def remove_tag(model_admin, request, queryset):
    return _tag_action(model_admin, request, queryset, RemoveTagForm, "remove_tag")


def _tag_action(model_admin, request, queryset, form_class, action):
    """Ask for the tag (and expiry) on a form page, then apply it to the selected persons,
    "select all" across pages included."""
    form = form_class(request.POST if "apply" in request.POST else None)
    if not form.is_valid():
        return _tag_action_page(model_admin, request, queryset, form, action)
    tag = form.cleaned_data["tag"]
    # A plain queryset of the selected persons: the list's annotations are not needed.
    persons = list(Person.objects.filter(pk__in=queryset.values("pk")).order_by("pk"))
    actor = Actor.admin(request.user)
    try:
        if action == "add_tag":
            count = bulk_assign_tag(
                persons=persons,
                key=tag.key,
                actor=actor,
                expires_at=form.cleaned_data["expires_at"],
            )
            message = ngettext(
                "Added tag “%(tag)s” to %(count)d person.",
                "Added tag “%(tag)s” to %(count)d persons.",
                count,
            )
        else:
            count = bulk_remove_tag(persons=persons, key=tag.key, actor=actor)
            message = ngettext(
                "Removed tag “%(tag)s” from %(count)d person.",
                "Removed tag “%(tag)s” from %(count)d persons.",
                count,
            )
    except DomainError as exc:
        model_admin.message_user(request, describe_error(exc), level=messages.ERROR)
        return None
    model_admin.message_user(request, message % {"tag": tag.name, "count": count}, messages.SUCCESS)
    return None


def _tag_action_page(model_admin, request, queryset, form, action):
    count = queryset.count()
    sample = list(queryset.order_by("pk").values_list("public_id", flat=True)[:PREVIEW])
    title = _("Add a tag to persons") if action == "add_tag" else _("Remove a tag from persons")
    context = {
        **model_admin.admin_site.each_context(request),
        "title": title,
        "opts": model_admin.model._meta,
        "form": form,
        "media": model_admin.media + form.media,
        "action": action,
        "adding": action == "add_tag",
        "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
        "select_across": request.POST.get("select_across", "0"),
        "count": count,
        "sample": sample,
        "more": count - len(sample),
        "changelist_url": request.get_full_path(),
    }
    request.current_app = model_admin.admin_site.name
    return TemplateResponse(request, TAG_ACTION_TEMPLATE, context)
