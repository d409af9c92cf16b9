"""The events whose follow-up (stats, activity, follow state, rule tags) has not run yet."""

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models.functions import Now
from django.utils.translation import gettext_lazy as _


class PendingEvents(models.Model):
    """The events one ingest stored, waiting for the worker to bring their persons up to date.

    Written in the ingest's transaction and deleted in the transaction that applies the events,
    so each event is applied exactly once: a job that dies half-way rolls back with its delete,
    a job that runs twice finds the row gone. One row per ingest (not per event) keeps the
    ingest's extra write to one small insert. The arrays name the events by primary key and
    occurrence time (the partition key), and the row remembers who sent them for the audit of
    follow changes they carry.
    """

    event_ids = ArrayField(models.BigIntegerField())
    occurred_at = ArrayField(models.DateTimeField())
    event_count = models.PositiveIntegerField()
    accepted_at = models.DateTimeField(_("accepted at"), db_default=Now())
    actor_type = models.CharField(max_length=16)
    actor_label = models.CharField(max_length=200)
    source = models.CharField(max_length=32)
    # Set when the row's events cannot be applied (a value the stats cannot hold): the row is
    # set aside, so that the rows after it go on, and stays for an operator to look at.
    failed_at = models.DateTimeField(_("failed at"), null=True, blank=True)
    error = models.CharField(_("error"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("pending events")
        verbose_name_plural = _("pending events")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(event_count__gt=0), name="pending_events_not_empty"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_count} pending events #{self.pk}"
