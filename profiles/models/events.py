"""Behavioural events, their idempotency keys and registered types, the rollups of pruned events."""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from identity.models import App, Identity, Person
from profiles.event_type_names import event_type_name


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

    @property
    def shown_name(self) -> str:
        """The name in the operator's language: a built-in type's default name translated."""
        return event_type_name(self.key, self.name)


class Event(models.Model):
    """One thing a person did, reported by a backend; `(app, event_id)` makes ingestion idempotent.

    `origin_person_id` is the person the event was first attributed to and `identity` the openid
    it came through: undoing a merge gives back the events of the loser by those two, without the
    merge record listing millions of event ids.

    The table is partitioned by month of `occurred_at` (migration 0013, services/partitions.py),
    so that retention drops whole months instead of deleting rows. Its primary key in the
    database is `(id, occurred_at)`, as a partitioned table's unique keys must hold the
    partition key; `id` alone comes from one sequence and stays unique, and Django knows it as
    the primary key. The idempotency key cannot be a unique constraint across partitions: it
    lives in EventKey, written in the same statement as the events.
    """

    event_id = models.CharField(_("event id"), max_length=64)
    person = models.ForeignKey(
        Person,
        verbose_name=_("person"),
        on_delete=models.CASCADE,
        related_name="events",
        db_index=False,
    )
    origin_person_id = models.BigIntegerField(_("original person id"), editable=False)
    app = models.ForeignKey(
        App,
        verbose_name=_("app"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    identity = models.ForeignKey(
        Identity,
        verbose_name=_("identity"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    type = models.ForeignKey(
        EventType,
        verbose_name=_("type"),
        on_delete=models.PROTECT,
        related_name="+",
        db_column="type",
        db_index=False,
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
        # Not the "events" of the stats and rollups, which counts them (事件数).
        verbose_name_plural = pgettext_lazy("model", "events")
        # Each index is one per partition, and each one costs every insert: only what reads
        # need. The primary key (id, occurred_at) serves the pipeline's read of pending events,
        # the admin's list (newest id first: one index page per partition) and its change page.
        indexes = [
            # By person, newest first: the timeline (selectors.person_events, the admin's person
            # page), merges, undos and erasures moving or clearing a person's events, stats
            # rebuilt per person (stats_rebuild), restricted stats (person_sections), the
            # cascade of a deleted person.
            models.Index(
                "person",
                models.F("occurred_at").desc(),
                models.F("id").desc(),
                name="event_person_timeline",
            ),
            # "did X within N days" conditions (conditions/compiler.py `_event`): the time bound
            # prunes partitions, then an index-only range scan per type; also "is this type
            # used" before an event type is deleted.
            models.Index(fields=["type", "occurred_at", "person"], name="event_type_time"),
            # The SET NULL cascade of a deleted identity (erasure of an app's part of a person).
            models.Index(
                fields=["identity"], name="event_identity", condition=Q(identity__isnull=False)
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__isnull=True) | Q(amount__gte=0),
                name="event_amount_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type_id} #{self.pk}"


class EventKey(models.Model):
    """The idempotency key of every event ever stored: `(app, event_id)` is accepted once.

    The client's key is its app's own namespace: one app's ids can neither pre-empt nor reveal
    another's, and events without an app share one namespace (NULLS NOT DISTINCT). The event
    table is partitioned by occurrence time and cannot enforce this across partitions, so the
    event store inserts the batch's keys ON CONFLICT DO NOTHING and, in the same statement, the
    events whose key went in: a replay is a duplicate whatever its `occurred_at`.

    `id` is the id the event got when it was stored. Keys outlive their events on purpose:
    a pruned month, an erasure by app (which deletes that app's events) or an erased person
    leave their keys, so that a replay of those events stays a duplicate instead of coming back
    as new activity. A key holds no personal data (an app and a client-chosen id). The app is
    not a database foreign key: the event inserted with the key checks it, and apps are never
    deleted.
    """

    id = models.BigIntegerField(primary_key=True)
    app = models.ForeignKey(
        App,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    event_id = models.CharField(_("event id"), max_length=64)

    class Meta:
        verbose_name = _("event key")
        verbose_name_plural = _("event keys")
        constraints = [
            models.UniqueConstraint(
                fields=["app", "event_id"], name="event_key_unique", nulls_distinct=False
            ),
        ]

    def __str__(self) -> str:
        return f"event key #{self.pk}"


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
