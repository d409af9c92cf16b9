"""The person page of identity, extended with stats, latest events, tags and tag history."""

from django.contrib import admin
from django.contrib.postgres.expressions import ArraySubquery
from django.db.models import OuterRef
from django.utils import formats, timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from identity.admin.common import ReadOnlyInline
from identity.admin.persons import PersonAdmin
from identity.models import Person
from profiles.admin.history import history_table, person_tag_history
from profiles.admin.person_filters import PERSON_FILTERS
from profiles.admin.person_tags import PersonTagActions, TagAssignmentInline
from profiles.models import Event, PersonEventStats, PersonStats, TagAssignment

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
    """Build a read-only field showing one PersonStats column, None ("-") without stats."""

    @admin.display(description=description, ordering=ordering)
    def show(self, obj):
        stats = _stats(obj)
        value = getattr(stats, name) if stats is not None else None
        return value if value not in (None, "") else None

    return show


def _when(value) -> str:
    return formats.localize(timezone.template_localtime(value))


class EventStatsInline(ReadOnlyInline, admin.TabularInline):
    model = PersonEventStats
    fields = ("type", "count", "amount_total", "first_at", "last_at")
    readonly_fields = fields
    verbose_name_plural = _("events by type")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("type").order_by("type")


class ProfilePersonAdmin(PersonTagActions, PersonAdmin):
    list_display = (*PersonAdmin.list_display, "last_seen", "tag_list")
    list_filter = (*PersonAdmin.list_filter, *PERSON_FILTERS)
    actions = (*PersonAdmin.actions, "add_tag", "remove_tag")
    fields = None  # the fieldsets below replace PersonAdmin's flat list
    fieldsets = (
        (None, {"fields": PersonAdmin.fields}),
        (_("Stats"), {"fields": STATS_FIELDS}),
        (_("Latest events"), {"fields": ("latest_events",)}),
        (_("Tag history"), {"fields": ("tag_history",)}),
    )
    readonly_fields = (
        *PersonAdmin.readonly_fields,
        *STATS_FIELDS,
        "latest_events",
        "tag_history",
    )
    inlines = (*PersonAdmin.inlines, TagAssignmentInline, EventStatsInline)

    first_seen = _stat("first_seen_at", _("first seen"))
    last_seen = _stat("last_seen_at", _("last seen"), ordering="stats__last_seen_at")
    first_channel = _stat("first_channel", _("first channel"))
    last_login = _stat("last_login_at", _("last login"))
    event_count = _stat("event_count", _("events"))
    pay_count = _stat("pay_count", _("payments"))
    pay_total = _stat("pay_total", _("paid in total"))
    last_payment = _stat("last_pay_at", _("last payment"))

    def get_queryset(self, request):
        # One LEFT JOIN serves the "last seen" column and the eight stats fields alike; the
        # active tag keys come in the same query, like PersonAdmin's counts.
        active = TagAssignment.objects.active().filter(person=OuterRef("pk"))
        return (
            super()
            .get_queryset(request)
            .select_related("stats")
            .annotate(tag_keys=ArraySubquery(active.order_by("tag__key").values("tag__key")))
        )

    @admin.display(description=_("tags"))
    def tag_list(self, obj):
        return ", ".join(obj.tag_keys) or None

    @admin.display(description=_("tag history"))
    def tag_history(self, obj):
        return history_table(person_tag_history(obj))

    @admin.display(description=_("latest events"))
    def latest_events(self, obj):
        # One range scan of the (person, occurred_at desc, id desc) index.
        events = list(
            Event.objects.filter(person=obj)
            .select_related("app")
            .order_by("-occurred_at", "-id")[:LATEST_EVENTS]
        )
        if not events:
            return None
        head = format_html_join("", "<th>{}</th>", ((label,) for label in EVENT_COLUMNS))
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    event.type_id,
                    event.app.appid if event.app else "-",
                    _when(event.occurred_at),
                    formats.number_format(event.amount) if event.amount is not None else "-",
                    event.channel or "-",
                )
                for event in events
            ),
        )
        return format_html("<table><thead><tr>{}</tr></thead><tbody>{}</tbody></table>", head, rows)


admin.site.unregister(Person)
admin.site.register(Person, ProfilePersonAdmin)
