"""Per-person daily activity: the rollup that analytics reads instead of raw events."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from identity.models import App, Person
from profiles.models.events import EventType


class DailyActivity(models.Model):
    """What one person did on one local day, per event type and app: counts and amounts.

    Retention, lifecycle and active users ask "who was active in which period", which a few rows
    per person and day answer where raw events would need millions; and the rows survive the
    pruning of raw events (partitions dropped), so those reports keep their history. The day is
    the local calendar day in `ANALYTICS_TIME_ZONE`. The pipeline adds the events it applies
    (services/activity.py), a rebuild recomputes the days that events still cover, and merges
    and undos move rows with the events: `origin_person_id` and `identity_id` are the events'
    own (the person they were first attributed to, the openid they came through), so that an
    undo gives back exactly the rows of the events it gives back. `identity_id` is a plain
    column, not a foreign key, like `origin_person_id`: erasure folds it to NULL as the events'
    foreign key does.
    """

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="+", db_index=False)
    origin_person_id = models.BigIntegerField(editable=False)
    identity_id = models.BigIntegerField(null=True, blank=True, editable=False)
    app = models.ForeignKey(
        App, on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_index=False
    )
    day = models.DateField(_("day"))
    type = models.ForeignKey(
        EventType, on_delete=models.PROTECT, related_name="+", db_column="type", db_index=False
    )
    count = models.PositiveIntegerField(_("events"))
    amount_total = models.DecimalField(_("amount"), max_digits=16, decimal_places=2, default=0)

    class Meta:
        verbose_name = _("daily activity")
        verbose_name_plural = _("daily activity")
        constraints = [
            # The upsert's key, led by (person, day): it also serves a person's days (segment
            # members joined to their activity, "first-ever" per person), merges and undos
            # (rows of one person) and rebuilds (persons and days).
            # Events without an app or openid fold into one row, as NULLs are not distinct.
            models.UniqueConstraint(
                fields=["person", "day", "type", "app", "origin_person_id", "identity_id"],
                name="activity_unique",
                nulls_distinct=False,
            ),
        ]
        # Every report reads a range of local days (a period and its look-back), over all
        # types or one: the day leads and the type follows, so that both are one index-only
        # range scan (a typed read filters the type inside the index), and a report costs the
        # same whatever its type. No more than these two beside the key and the primary key:
        # each index costs every new row the pipeline writes.
        indexes = [
            # DAU / WAU / MAU, lifecycle, retention's cohorts and returns, any type or one.
            models.Index(fields=["day", "type", "person"], name="activity_day"),
            # The same reads restricted to apps (`app=`, keys restricted to apps: one range
            # scan per app).
            models.Index(fields=["app", "day", "type", "person"], name="activity_app_day"),
        ]

    def __str__(self) -> str:
        return f"{self.type_id} on {self.day} of person #{self.person_id}"
