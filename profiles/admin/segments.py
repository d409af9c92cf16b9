"""Segments: saved through `save_segment`, with live counts, growth and a CSV member export."""

from django.contrib import admin, messages
from django.db.models import OuterRef, Subquery
from django.urls import reverse
from django.utils import formats
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from identity.admin.common import DomainErrorsAsMessages
from identity.models import Actor
from profiles.admin.deletion import DeleteThroughService
from profiles.admin.exports import export_members
from profiles.admin.forms import CONDITION_OVERRIDES, ServiceErrorsOnForm, condition_text
from profiles.admin.segment_extensions import SegmentAdminExtensions
from profiles.conditions import ConditionInvalid, check_shape
from profiles.models import Segment, SegmentSnapshot
from profiles.services.definition_removal import delete_segment
from profiles.services.definitions import save_segment
from profiles.services.segments import count_segments

GROWTH_DAYS = 30
BAR_WIDTH, BAR_GAP, CHART_HEIGHT = 8, 2, 60


@admin.register(Segment)
class SegmentAdmin(
    SegmentAdminExtensions,
    DomainErrorsAsMessages,
    ServiceErrorsOnForm,
    DeleteThroughService,
    admin.ModelAdmin,
):
    formfield_overrides = CONDITION_OVERRIDES
    list_display = ("key", "name", "live_count", "last_snapshot")
    search_fields = ("key", "name")
    ordering = ("key",)
    actions = ("export_members_csv",)

    def get_queryset(self, request):
        latest = SegmentSnapshot.objects.filter(segment=OuterRef("pk")).order_by("-day")
        return (
            super()
            .get_queryset(request)
            .annotate(
                snapshot_day=Subquery(latest.values("day")[:1]),
                snapshot_count=Subquery(latest.values("count")[:1]),
            )
        )

    def get_changelist_instance(self, request):
        """Count the page's segments once, in one query, for the "live count" column."""
        changelist = super().get_changelist_instance(request)
        segments = list(changelist.result_list)  # fills the result cache the page renders
        counts = count_segments(segments)
        for segment in segments:
            segment.live_members = counts[segment.pk]
        return changelist

    def get_fieldsets(self, request, obj=None):
        fieldsets = [
            (None, {"fields": ("key", "name", "description")}),
            (gettext_lazy("Condition"), {"fields": [("condition", "reads_as")]}),
        ]
        if obj is not None:
            members = ("live_count", "members_link", "growth")
            fieldsets.append((gettext_lazy("Members"), {"fields": members}))
        return fieldsets

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ("reads_as",)
        # The key names the segment in the API and in the members link.
        return ("key", "reads_as", "live_count", "members_link", "growth")

    @admin.display(description=gettext_lazy("reads as"))
    def reads_as(self, obj):
        return condition_text(obj.condition if obj else None)

    @admin.display(description=gettext_lazy("live count"))
    def live_count(self, obj):
        if not hasattr(obj, "live_members"):  # the change page: this one segment
            obj.live_members = count_segments([obj])[obj.pk]
        if obj.live_members is None:  # an invalid stored condition, or the statement timeout
            return format_html(
                '<span class="count-failed" title="{}">⚠ {}</span>',
                _("The count failed; the logs say why."),
                _("count failed"),
            )
        return obj.live_members

    @admin.display(description=gettext_lazy("last snapshot"), ordering="snapshot_day")
    def last_snapshot(self, obj):
        if getattr(obj, "snapshot_day", None) is None:
            return None
        day = formats.date_format(obj.snapshot_day, "SHORT_DATE_FORMAT")
        return f"{obj.snapshot_count} ({day})"

    @admin.display(description=gettext_lazy("members"))
    def members_link(self, obj):
        url = reverse("admin:identity_person_changelist") + "?" + urlencode({"segment": obj.key})
        return format_html('<a href="{}">{}</a>', url, _("Show the members in the person list"))

    @admin.display(description=gettext_lazy("growth (last 30 snapshots)"))
    def growth(self, obj):
        snapshots = list(obj.snapshots.order_by("-day")[:GROWTH_DAYS])[::-1]
        if not snapshots:  # a read-only field would print None as the word "None"
            return _("No snapshot yet: the size of each segment is recorded every night.")
        top = max(snapshot.count for snapshot in snapshots) or 1
        step = BAR_WIDTH + BAR_GAP
        bars = format_html_join(
            "",
            '<rect x="{}" y="{}" width="{}" height="{}" fill="#79aec8">'
            "<title>{}: {}</title></rect>",
            (
                (
                    index * step,
                    CHART_HEIGHT - height,
                    BAR_WIDTH,
                    height,
                    formats.date_format(snapshot.day, "SHORT_DATE_FORMAT"),
                    snapshot.count,
                )
                for index, snapshot in enumerate(snapshots)
                for height in [max(1, round(CHART_HEIGHT * snapshot.count / top))]
            ),
        )
        caption = _("%(first)s to %(last)s, at most %(top)s") % {
            "first": formats.date_format(snapshots[0].day, "SHORT_DATE_FORMAT"),
            "last": formats.date_format(snapshots[-1].day, "SHORT_DATE_FORMAT"),
            "top": top,
        }
        return format_html(
            '<svg class="segment-growth" width="{}" height="{}" role="img" aria-label="{}">{}</svg>'
            "<div>{}</div>",
            len(snapshots) * step,
            CHART_HEIGHT,
            caption,
            bars,
            caption,
        )

    def save_model(self, request, obj, form, change):
        save_segment(segment=obj, actor=Actor.admin(request.user))

    def save_related(self, request, form, formsets, change):
        """Write nothing more: save_segment did all of it."""

    def has_export_permission(self, request):
        user = request.user
        return user.has_perm("profiles.view_segment") and user.has_perm("identity.view_person")

    @admin.action(description=gettext_lazy("Export members as CSV"), permissions=["export"])
    def export_members_csv(self, request, queryset):
        segments = list(queryset[:2])
        if len(segments) != 1:
            self.message_user(request, _("Choose exactly one segment to export."), messages.ERROR)
            return None
        try:
            check_shape(segments[0].condition)  # before the file starts streaming
        except ConditionInvalid as exc:
            message = _("The condition of %(segment)s can no longer be evaluated: %(error)s")
            self.message_user(
                request, message % {"segment": segments[0].key, "error": exc}, messages.ERROR
            )
            return None
        return export_members(segments[0], actor=Actor.admin(request.user))

    @staticmethod
    def delete_service(obj, actor):
        delete_segment(segment=obj, actor=actor)
