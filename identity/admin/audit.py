"""Audit entries: read-only, in words, searched by exact target only.

The rows keep machine labels for tools; the pages name the actor, the action and the values in
words and link the person and the target (a person, an app or an API key) to their pages. The
list resolves the targets of a page in one query per kind, so its query count stays fixed.
`?person=<pk>` lists one person's entries (the person page links there).
"""

import re

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from identity.admin.common import EMPTY, ReadOnlyAdmin
from identity.admin.merge_parts import person_link
from identity.admin.person_filter import AuditPersonFilter
from identity.admin.words import ACTIONS, action_in_words, actor_in_words, value_in_words
from identity.models import ApiKey, App, AuditEntry, Person

API_KEY_TARGET = re.compile(r"\((?P<prefix>[^()\s]+)\)$")  # str(ApiKey): "name (prefix)"


class ActionFilter(admin.SimpleListFilter):
    """The actions in words (the stored codes mean little to staff)."""

    title = _("action")
    parameter_name = "action"

    def lookups(self, request, model_admin):
        return sorted(((code, label) for code, label in ACTIONS.items()), key=lambda c: str(c[1]))

    def queryset(self, request, queryset):
        return queryset.filter(action=self.value()) if self.value() else queryset


def resolve_targets(entries: list[AuditEntry]) -> None:
    """Set `target_url` on each entry whose target names a person, an app or an API key."""
    targets = {entry.target for entry in entries if entry.target}
    persons = dict(
        Person.objects.filter(public_id__in=[t for t in targets if t.startswith("p_")]).values_list(
            "public_id", "pk"
        )
    )
    apps = dict(App.objects.filter(appid__in=targets).values_list("appid", "pk"))
    prefixes = {m["prefix"]: t for t in targets if (m := API_KEY_TARGET.search(t))}
    keys = {
        str(key): key.pk
        for key in ApiKey.objects.filter(prefix__in=prefixes).only("name", "prefix")
    }
    for entry in entries:
        url = None
        if entry.target in persons:
            url = reverse("admin:identity_person_change", args=[persons[entry.target]])
        elif entry.target in apps:
            url = reverse("admin:identity_app_change", args=[apps[entry.target]])
        elif entry.target in keys:
            url = reverse("admin:identity_apikey_change", args=[keys[entry.target]])
        entry.target_url = url


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "actor_in_words", "action_in_words", "person_link", "target_link")
    list_select_related = ("person",)
    list_filter = (AuditPersonFilter, ActionFilter, "actor_type")
    date_hierarchy = "created_at"
    search_fields = ("=target",)  # shows the search box; get_search_results does the work
    search_help_text = _("Exact target: a person's public id, an appid or an API key.")
    show_full_result_count = False
    fields = (
        "created_at",
        "actor_in_words",
        "action_in_words",
        "person_link",
        "target_link",
        "before_in_words",
        "after_in_words",
    )
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("person")

    def get_changelist_instance(self, request):
        changelist = super().get_changelist_instance(request)
        resolve_targets(list(changelist.result_list))  # fills the result cache the page renders
        return changelist

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        return queryset.filter(target=term), False

    @admin.display(description=_("actor"), ordering="actor")
    def actor_in_words(self, obj):
        return actor_in_words(obj.actor_type, obj.actor)

    @admin.display(description=_("action"), ordering="action")
    def action_in_words(self, obj):
        return action_in_words(obj.action)

    @admin.display(description=_("person"))
    def person_link(self, obj):
        return person_link(obj.person) if obj.person_id else EMPTY

    @admin.display(description=_("target"))
    def target_link(self, obj):
        if not hasattr(obj, "target_url"):  # the change page: this one entry
            resolve_targets([obj])
        if not obj.target:
            return EMPTY
        if obj.target_url is None:
            return obj.target
        return format_html('<a href="{}">{}</a>', obj.target_url, obj.target)

    @admin.display(description=_("before"))
    def before_in_words(self, obj):
        return value_in_words(obj.before)

    @admin.display(description=_("after"))
    def after_in_words(self, obj):
        return value_in_words(obj.after)
