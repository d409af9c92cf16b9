"""Per-person stats kept incrementally from events, and the runs that prune old events."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from identity.models import Person
from profiles.models.events import EventType


class PersonStats(models.Model):
    """Per-person aggregates kept current by ingestion, read by conditions and the API.

    Every column but the resolve times is derivable from events and rollups (`rebuild_stats`);
    ingestion keeps it current in the same transaction with commutative upserts, so concurrent
    batches for one person add up exactly.
    """

    person = models.OneToOneField(
        Person, on_delete=models.CASCADE, primary_key=True, related_name="stats"
    )
    event_count = models.PositiveIntegerField(_("events"), default=0)
    # Seen: by events and by resolves and logins (DESIGN.md, Tags), what the conditions read.
    first_seen_at = models.DateTimeField(_("first seen"), null=True, db_index=True)
    last_seen_at = models.DateTimeField(_("last seen"), null=True, db_index=True)
    # The first event alone, pruned ones included: where the reports start a person (a new
    # person is new in the period of their first event, analytics.md), derivable from events.
    first_event_at = models.DateTimeField(_("first event"), null=True)
    # The resolves and logins alone (services/seen.py): no event records them, so a rebuild
    # from events keeps them and derives the seen times from both.
    first_resolved_at = models.DateTimeField(_("first resolved"), null=True, blank=True)
    last_resolved_at = models.DateTimeField(_("last resolved"), null=True, blank=True)
    first_channel = models.CharField(_("first channel"), max_length=64, blank=True)
    first_channel_at = models.DateTimeField(null=True, blank=True)
    # Ties on first_channel_at go to the lower event id, as in a rebuild.
    first_channel_event_id = models.BigIntegerField(null=True, blank=True)
    last_login_at = models.DateTimeField(_("last login"), null=True, blank=True)
    pay_count = models.PositiveIntegerField(_("payments"), default=0, db_index=True)
    pay_total = models.DecimalField(_("paid in total"), max_digits=16, decimal_places=2, default=0)
    last_pay_at = models.DateTimeField(_("last payment"), null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("person stats")
        verbose_name_plural = _("person stats")
        # The reports' range reads of new persons (built concurrently: migration 0020).
        indexes = [models.Index(fields=["first_event_at"], name="personstats_first_event")]

    def __str__(self) -> str:
        return f"stats of person #{self.person_id}"


class PersonEventStats(models.Model):
    """Per-person, per-type count and last time (the funnel, recency and frequency)."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="event_stats")
    type = models.ForeignKey(
        EventType,
        verbose_name=_("type"),
        on_delete=models.PROTECT,
        related_name="+",
        db_column="type",
    )
    count = models.PositiveIntegerField(_("count"), default=0)
    amount_total = models.DecimalField(
        _("total amount"), max_digits=16, decimal_places=2, default=0
    )
    first_at = models.DateTimeField(_("first time"))
    last_at = models.DateTimeField(_("last time"))

    class Meta:
        verbose_name = _("event stats")
        verbose_name_plural = _("event stats")
        constraints = [
            models.UniqueConstraint(fields=["person", "type"], name="event_stats_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.type_id} stats of person #{self.person_id}"


class PruneRun(models.Model):
    """One run of `prune_events`: what was folded into rollups and deleted."""

    cutoff = models.DateTimeField()
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    events_deleted = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = _("prune run")
        verbose_name_plural = _("prune runs")
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"prune before {self.cutoff:%Y-%m-%d}"
