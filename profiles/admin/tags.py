"""Tags: saved through `save_tag`, rule tags refreshed on demand, member counts per page."""

from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, Q, TextField, Value
from django.db.models.expressions import OuterRef
from django.db.models.functions import Cast, Concat
from django.urls import path, reverse
from django.utils import formats, timezone
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from identity.admin.common import DomainErrorsAsMessages
from identity.models import Actor
from jobs.selectors import job_in_progress
from profiles import selectors
from profiles.admin.condition_count import count_endpoint
from profiles.admin.deletion import DeleteThroughService
from profiles.admin.forms import (
    CONDITION_OVERRIDES,
    ServiceErrorsOnForm,
    condition_text,
)
from profiles.admin.history import history_table, tag_history
from profiles.models import Tag, TagAssignment, TagKind
from profiles.presets import stored_tag_text, tag_description, tag_name
from profiles.services.definition_removal import delete_tag, tag_users
from profiles.services.definitions import save_tag
from profiles.services.rules import try_refresh_rule_tag
from profiles.tasks.rules import LOCK_PREFIX


class TagForm(forms.ModelForm):
    class Meta:
        model = Tag
        fields = ["key", "name", "group", "kind", "condition", "description"]

    # A preset's name and description as profiles.presets shows them, stored back as defaults.
    SHOWN = {"name": tag_name, "description": tag_description}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        key = self.instance.key if self.instance.pk else ""
        for field, shown in self.SHOWN.items():
            if key and self.initial.get(field):
                self.initial[field] = shown(key, self.initial[field])

    def _stored(self, field: str) -> str:
        value = self.cleaned_data[field]
        return stored_tag_text(self.instance.key, field, value) if self.instance.pk else value

    def clean_name(self):
        return self._stored("name")

    def clean_description(self):
        return self._stored("description")

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("kind") == TagKind.MANUAL:
            # A manual tag has no condition (save_tag drops it too): ignore what the box holds.
            cleaned["condition"] = None
            self.errors.pop("condition", None)
        elif cleaned.get("condition") is None and "condition" not in self.errors:
            self.add_error("condition", gettext_lazy("A rule tag needs a condition."))
        return cleaned


@admin.register(Tag)
class TagAdmin(DomainErrorsAsMessages, ServiceErrorsOnForm, DeleteThroughService, admin.ModelAdmin):
    form = TagForm
    formfield_overrides = CONDITION_OVERRIDES
    list_display = (
        "key",
        "shown_name",
        "group",
        "kind",
        "members",
        "last_refresh",
        "refresh_failure",
    )
    list_select_related = ("group",)
    list_filter = ("kind", "group")
    search_fields = ("key", "name")
    ordering = ("key",)
    actions = ("refresh_now",)

    def get_queryset(self, request):
        # Active members of every tag on the page, counted in the page's own query, and
        # whether its refresh waits or runs (an index probe of the queue per tag).
        active = Q(assignments__expires_at__isnull=True) | Q(
            assignments__expires_at__gt=timezone.now()
        )
        lock = Concat(Value(LOCK_PREFIX), Cast(OuterRef("pk"), TextField()))
        return (
            super()
            .get_queryset(request)
            .annotate(
                active_members=Count("assignments", filter=active),
                refreshing=job_in_progress(lock),
            )
        )

    def get_urls(self):
        # The condition builder's live count, for the tag and the segment forms alike.
        view = count_endpoint(self.admin_site)
        count = path("condition-count/", view, name="profiles_condition_count")
        return [count, *super().get_urls()]

    def get_form(self, request, obj=None, change=False, **kwargs):
        form_class = super().get_form(request, obj, change=change, **kwargs)
        if obj is not None and "condition" in form_class.base_fields:
            # The live count refuses a rule that depends on itself, as saving does.
            form_class.base_fields["condition"].widget.forbidden_tag = obj.key
        return form_class

    def get_search_results(self, request, queryset, search_term):
        queryset, duplicates = super().get_search_results(request, queryset, search_term)
        # The bulk tag actions pick a tag through the autocomplete: offer manual tags only.
        match = request.resolver_match
        source = (request.GET.get("model_name"), request.GET.get("field_name"))
        if match and match.url_name == "autocomplete" and source == ("tagassignment", "tag"):
            queryset = queryset.filter(kind=TagKind.MANUAL)
        return queryset, duplicates

    def get_fieldsets(self, request, obj=None):
        main = ("key", "name", "group", "kind", "description")
        fieldsets = [
            (None, {"fields": main}),
            (gettext_lazy("Rule"), {"fields": [("condition", "reads_as")]}),
        ]
        if obj is not None:
            members = ("members", "last_refresh", "last_refresh_failure")
            fieldsets.append((gettext_lazy("Members"), {"fields": members}))
            fieldsets.append((gettext_lazy("History"), {"fields": ("history",)}))
        return fieldsets

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ("reads_as",)
        # The key names the tag in conditions, the API and audit entries.
        return (
            "key",
            "reads_as",
            "members",
            "last_refresh",
            "last_refresh_failure",
            "history",
        )

    @admin.display(description=gettext_lazy("name"), ordering="name")
    def shown_name(self, obj):
        return str(obj)  # a preset's name in the operator's language (profiles.presets)

    @admin.display(description=gettext_lazy("reads as"))
    def reads_as(self, obj):
        return condition_text(obj.condition if obj else None)

    @admin.display(description=gettext_lazy("active members"), ordering="active_members")
    def members(self, obj):
        url = reverse("admin:identity_person_changelist") + "?" + urlencode({"tag": obj.key})
        return format_html('<a href="{}">{}</a>', url, obj.active_members)

    @admin.display(description=gettext_lazy("last refresh"), ordering="last_refreshed_at")
    def last_refresh(self, obj):
        """The last refresh of everyone: when (local time), how long, what it changed; or that
        one is queued or running (saving a rule tag queues one)."""
        if getattr(obj, "refreshing", False):
            return format_html('<span class="refreshing">{}</span>', _("refreshing…"))
        if obj.last_refreshed_at is None:
            # A manual tag is never refreshed; the page would print None as the word "None".
            return _("not yet") if obj.is_rule else self.get_empty_value_display()
        figures = {
            "time": formats.localize(timezone.localtime(obj.last_refreshed_at)),
            "added": obj.last_refresh_added,
            "removed": obj.last_refresh_removed,
        }
        if obj.last_refresh_duration is None:  # refreshed before durations were recorded
            return _("%(time)s: +%(added)d / -%(removed)d") % figures
        figures["duration"] = duration_text(obj.last_refresh_duration)
        return _("%(time)s in %(duration)s: +%(added)d / -%(removed)d") % figures

    @admin.display(description=gettext_lazy("refresh error"))
    def refresh_failure(self, obj):
        """A marker in the list when the last refresh failed, its reason on hover."""
        if obj.last_refresh_failed_at is None:
            return None
        return format_html(
            '<span class="refresh-failed" title="{}">⚠ {}</span>',
            obj.last_refresh_error,
            _("failed"),
        )

    @admin.display(description=gettext_lazy("last refresh error"))
    def last_refresh_failure(self, obj):
        if obj.last_refresh_failed_at is None:
            return self.get_empty_value_display()
        return format_html(
            '<span class="refresh-failed">{}</span>',
            _("Failed on %(time)s: %(error)s")
            % {
                "time": formats.localize(timezone.localtime(obj.last_refresh_failed_at)),
                "error": obj.last_refresh_error,
            },
        )

    @admin.display(description=gettext_lazy("history"))
    def history(self, obj):
        return history_table(tag_history(obj))

    def save_model(self, request, obj, form, change):
        save_tag(tag=obj, actor=Actor.admin(request.user))

    def save_related(self, request, form, formsets, change):
        """Write nothing more: save_tag did all of it."""

    @admin.action(description=gettext_lazy("Refresh now"), permissions=["change"])
    def refresh_now(self, request, queryset):
        actor = Actor.admin(request.user)
        skipped = 0
        for tag in selectors.chosen_tags(queryset):
            if not tag.is_rule:
                skipped += 1
                continue
            result = try_refresh_rule_tag(tag=tag, actor=actor)
            if result.failed:
                message = _("%(tag)s could not be refreshed: %(error)s") % {
                    "tag": tag.key,
                    "error": result.error,
                }
                self.message_user(request, message, messages.ERROR)
                continue
            message = _("%(tag)s refreshed: +%(added)d added, -%(removed)d removed.") % {
                "tag": tag.key,
                "added": result.added,
                "removed": result.removed,
            }
            self.message_user(request, message, messages.SUCCESS)
        if skipped:
            message = ngettext(
                "Skipped %(count)d manual tag: only rule tags are refreshed.",
                "Skipped %(count)d manual tags: only rule tags are refreshed.",
                skipped,
            )
            self.message_user(request, message % {"count": skipped}, messages.WARNING)

    def get_deleted_objects(self, objs, request):
        """Count the assignments instead of listing them (a tag can have millions); a tag that
        a condition names is protected."""
        objs = list(objs)
        protected = []
        for tag in objs:
            users = tag_users(tag.key)
            if users:
                protected.append(
                    _("%(tag)s is used by %(users)s.") % {"tag": tag.key, "users": ", ".join(users)}
                )
        held = selectors.assignment_count(objs)
        counts = {Tag._meta.verbose_name_plural: len(objs)}
        if held:
            counts[TagAssignment._meta.verbose_name_plural] = held
        return [str(tag) for tag in objs], counts, set(), protected

    @staticmethod
    def delete_service(obj, actor):
        delete_tag(tag=obj, actor=actor)


def duration_text(duration: timedelta) -> str:
    """Say a refresh's duration the way staff read it: "0.4 s", "2 min 5 s"."""
    seconds = duration.total_seconds()
    if seconds < 60:
        return _("%(seconds)s s") % {"seconds": formats.number_format(seconds, 1)}
    minutes, rest = divmod(round(seconds), 60)
    return _("%(minutes)d min %(seconds)d s") % {"minutes": minutes, "seconds": rest}
