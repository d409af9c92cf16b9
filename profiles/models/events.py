"""Behavioural events, their registered types, and the rollups of pruned events."""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from identity.models import App, Identity, Person


class EventType(models.Model):
    """A kind of behavioural event; its key is the primary key so events carry it directly.

    The operations funnel (register, login, view, pay, ...) is created by migration 0002 as
    built-in types; admins register more.
    """

    key = models.SlugField(_("key"), max_length=32, primary_key=True)
    name = models.CharField(_("name"), max_length=100)
    description = models.TextField(_("description"), blank=True)
    builtin = models.BooleanField(_("built-in"), default=False, editable=False)
    is_active = models.BooleanField(
        _("accepts events"), default=True, help_text=_("Inactive types reject new events.")
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("event type")
        verbose_name_plural = _("event types")
        ordering = ["key"]

    def __str__(self) -> str:
        return self.key


class Event(models.Model):
    """One thing a person did, reported by a backend; `(app, event_id)` makes ingestion idempotent.

    `origin_person_id` is the person the event was first attributed to and `identity` the openid
    it came through: undoing a merge gives back the events of the loser by those two, without the
    merge record listing millions of event ids.
    """

    event_id = models.CharField(_("event id"), max_length=64)
    person = models.ForeignKey(
        Person, on_delete=models.CASCADE, related_name="events", db_index=False
    )
    origin_person_id = models.BigIntegerField(editable=False)
    app = models.ForeignKey(
        App, on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_index=False
    )
    identity = models.ForeignKey(
        Identity,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    type = models.ForeignKey(
        EventType, on_delete=models.PROTECT, related_name="+", db_column="type", db_index=False
    )
    occurred_at = models.DateTimeField(_("occurred at"))
    received_at = models.DateTimeField(_("received at"), auto_now_add=True)
    amount = models.DecimalField(
        _("amount"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    channel = models.CharField(_("channel"), max_length=64, blank=True)
    properties = models.JSONField(_("properties"), default=dict, blank=True)

    class Meta:
        verbose_name = _("event")
        verbose_name_plural = _("events")
        indexes = [
            # A person's timeline, newest first (the events endpoint, the admin page).
            models.Index(
                "person",
                models.F("occurred_at").desc(),
                models.F("id").desc(),
                name="event_person_timeline",
            ),
            # "did X within N days" conditions: one range scan per type.
            models.Index(fields=["type", "occurred_at", "person"], name="event_type_time"),
            models.Index(fields=["app", "occurred_at"], name="event_app_time"),
            # Prune's oldest-first scan, the admin's newest-first list and date drill-down.
            models.Index(fields=["occurred_at", "id"], name="event_occurred"),
            models.Index(
                fields=["identity"], name="event_identity", condition=Q(identity__isnull=False)
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__isnull=True) | Q(amount__gte=0),
                name="event_amount_not_negative",
            ),
            # The client's idempotency key is its app's own namespace: one app's ids can
            # neither pre-empt nor reveal another's. Events without an app share one namespace.
            models.UniqueConstraint(
                fields=["app", "event_id"], name="event_app_event_id", nulls_distinct=False
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type_id} #{self.pk}"


class EventRollup(models.Model):
    """Pruned events of one origin person, type and app, folded into counts.

    Pruning keeps the raw-event table small but stats must survive it: rebuilding stats reads
    events and rollups alike, and merges move rollups the way they move events. The app keeps
    pruned activity attributable, so that a key restricted to apps still counts only its own
    apps' (rollups from before 0009 have no app and count only for unrestricted keys).
    """

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="+")
    origin_person_id = models.BigIntegerField()
    type = models.ForeignKey(
        EventType, on_delete=models.PROTECT, related_name="+", db_column="type"
    )
    app = models.ForeignKey(
        App, on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_index=False
    )
    count = models.PositiveIntegerField()
    amount_total = models.DecimalField(max_digits=16, decimal_places=2, default=0)
    first_at = models.DateTimeField()
    last_at = models.DateTimeField()
    first_channel = models.CharField(max_length=64, blank=True)
    first_channel_at = models.DateTimeField(null=True, blank=True)
    first_channel_event_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        verbose_name = _("event rollup")
        verbose_name_plural = _("event rollups")
        constraints = [
            # Events without an app fold into one rollup, as they share one namespace.
            models.UniqueConstraint(
                fields=["person", "origin_person_id", "type", "app"],
                name="rollup_unique",
                nulls_distinct=False,
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type_id} rollup of person #{self.person_id}"
