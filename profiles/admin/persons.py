"""The person pages of identity, extended with stats, latest events, tags and tag history.

`PERSON_ADMIN_EXTENSION` holds all of it; profiles/admin/__init__.py registers it with the
person admin of identity (identity.admin.person_extensions).
"""

from datetime import datetime
from decimal import Decimal

from django.contrib import admin
from django.contrib.postgres.expressions import ArraySubquery
from django.db.models import OuterRef, QuerySet
from django.utils import formats
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from identity.admin.common import EMPTY, local_time
from identity.admin.person_extensions import PersonAdminExtension
from identity.admin.person_inlines import PersonInline
from identity.models import Person
from profiles.admin.history import describe_entry, history_table, person_tag_history
from profiles.admin.person_filters import PERSON_FILTERS
from profiles.admin.person_tag_edit import FORMS_TEMPLATE, TAG_VIEWS, tag_editor_context
from profiles.admin.person_tags import TagAssignmentInline, add_tag, can_tag, remove_tag
from profiles.models import Event, PersonEventStats, PersonStats, TagAssignment
from profiles.presets import tag_name

LATEST_EVENTS = 20
EVENT_COLUMNS = (_("type"), _("app"), _("occurred at"), _("amount"), _("channel"))
STATS_FIELDS = (
    "first_seen",
    "last_seen",
    "first_channel",
    "last_login",
    "event_count",
    "pay_count",
    "pay_total",
    "last_payment",
)


def _stats(person: Person) -> PersonStats | None:
    try:
        return person.stats
    except PersonStats.DoesNotExist:
        return None


def _stat(name: str, description, ordering: str | None = None):
    """Build a read-only field showing one PersonStats column (a dash without stats).

    It formats the value itself, times in TIME_ZONE: the change page shows a function's
    value as str(), which would be UTC.
    """

    @admin.display(description=description, ordering=ordering)
    def show(obj):
        stats = _stats(obj)
        value = getattr(stats, name) if stats is not None else None
        if value in (None, ""):
            return EMPTY
        if isinstance(value, datetime):
            return local_time(value)
        return formats.localize(value) if isinstance(value, Decimal) else value

    return show


class EventStatsInline(PersonInline):
    model = PersonEventStats
    fields = ("type_name", "count", "amount_total", "first_at", "last_at")
    readonly_fields = fields
    verbose_name_plural = _("events by type")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("type").order_by("type")

    @admin.display(description=_("type"))
    def type_name(self, obj):
        return obj.type.shown_name


def _with_stats_and_tags(queryset: QuerySet[Person]) -> QuerySet[Person]:
    """One LEFT JOIN serves the "last seen" column and the eight stats fields alike; the active
    tag keys come in the same query, like the person admin's counts."""
    active = TagAssignment.objects.active().filter(person=OuterRef("pk"))
    return queryset.select_related("stats").annotate(
        tag_keys=ArraySubquery(active.order_by("tag__key").values("tag__key")),
        tag_names=ArraySubquery(active.order_by("tag__key").values("tag__name")),
    )


@admin.display(description=_("tags"))
def tag_list(obj):
    """The active tags by name (a preset's in the operator's language), as the filters say."""
    return ", ".join(map(tag_name, obj.tag_keys, obj.tag_names)) or EMPTY


@admin.display(description=_("tag history"))
def tag_history(obj):
    return history_table(person_tag_history(obj))


@admin.display(description=_("latest events"))
def latest_events(obj):
    # One range scan of the (person, occurred_at desc, id desc) index.
    events = list(
        Event.objects.filter(person=obj)
        .select_related("app", "type")
        .order_by("-occurred_at", "-id")[:LATEST_EVENTS]
    )
    if not events:
        return EMPTY
    head = format_html_join("", "<th>{}</th>", ((label,) for label in EVENT_COLUMNS))
    rows = format_html_join(
        "",
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        (
            (
                event.type.shown_name,
                event.app.name if event.app else EMPTY,
                local_time(event.occurred_at),
                formats.localize(event.amount) if event.amount is not None else EMPTY,
                event.channel or EMPTY,
            )
            for event in events
        ),
    )
    return format_html("<table><thead><tr>{}</tr></thead><tbody>{}</tbody></table>", head, rows)


PERSON_ADMIN_EXTENSION = PersonAdminExtension(
    name="profiles",
    list_display=("last_seen", "tag_list"),
    list_filter=PERSON_FILTERS,
    actions=(add_tag, remove_tag),
    fieldsets=(
        (_("Stats"), {"fields": STATS_FIELDS}),
        (_("Latest events"), {"fields": ("latest_events",)}),
        (_("Tag history"), {"fields": ("tag_history",)}),
    ),
    inlines=(TagAssignmentInline, EventStatsInline),
    displays={
        "first_seen": _stat("first_seen_at", _("first seen")),
        "last_seen": _stat("last_seen_at", _("last seen"), ordering="stats__last_seen_at"),
        "first_channel": _stat("first_channel", _("first channel")),
        "last_login": _stat("last_login_at", _("last login")),
        "event_count": _stat("event_count", _("events")),
        "pay_count": _stat("pay_count", _("payments")),
        "pay_total": _stat("pay_total", _("paid in total")),
        "last_payment": _stat("last_pay_at", _("last payment")),
        "tag_list": tag_list,
        "tag_history": tag_history,
        "latest_events": latest_events,
    },
    permissions={"tag": can_tag},
    queryset=_with_stats_and_tags,
    views=TAG_VIEWS,
    change_context=tag_editor_context,
    change_form_templates=(FORMS_TEMPLATE,),
    audit_describers={"tag.": describe_entry},
)
