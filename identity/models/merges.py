"""Merge records: what a merge moved, so that an admin can undo it."""

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from identity.models.persons import Person


class MergeReason(models.TextChoices):
    UNIONID = "unionid", _("Shared unionid")
    PHONE = "phone", _("Shared phone number")
    MANUAL = "manual", _("Manual")


class MergeRecord(models.Model):
    """One merge: the loser became a tombstone of the survivor.

    `moved` lists, by primary key, what came from the loser (identities, unionids, the phone,
    tombstones that pointed at the loser, and whatever later apps attach to a person), so that
    `undo_merge` can give it all back. It holds ids only, never personal values.
    """

    survivor = models.ForeignKey(
        Person, verbose_name=_("survivor"), on_delete=models.PROTECT, related_name="merges_won"
    )
    loser = models.ForeignKey(
        Person, verbose_name=_("loser"), on_delete=models.PROTECT, related_name="merges_lost"
    )
    reason = models.CharField(_("reason"), max_length=16, choices=MergeReason.choices)
    moved = models.JSONField(_("moved"), default=dict)
    actor = models.CharField(_("actor"), max_length=200)
    created_at = models.DateTimeField(_("merged at"), default=timezone.now, db_index=True)
    undone_at = models.DateTimeField(_("undone at"), null=True, blank=True)
    undone_by = models.CharField(_("undone by"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("merge record")
        verbose_name_plural = _("merge records")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["loser"],
                condition=Q(undone_at__isnull=True),
                name="merge_one_live_per_loser",
            ),
            models.CheckConstraint(
                condition=~Q(survivor=models.F("loser")), name="merge_distinct_persons"
            ),
        ]

    def __str__(self) -> str:
        return _("merge #%(number)d") % {"number": self.pk}

    @property
    def is_undone(self) -> bool:
        return self.undone_at is not None
