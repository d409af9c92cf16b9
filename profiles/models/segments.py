"""Segments (saved conditions over persons) and their daily size snapshots."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Segment(models.Model):
    """A named condition over persons, read live (count, members) for campaigns."""

    key = models.SlugField(_("key"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=100)
    description = models.TextField(_("description"), blank=True)
    condition = models.JSONField(_("condition"))
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("segment")
        verbose_name_plural = _("segments")
        ordering = ["key"]

    def __str__(self) -> str:
        return str(self.name)


class SegmentSnapshot(models.Model):
    """A segment's size on one day (`snapshot_segments`), to chart its growth."""

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="snapshots")
    day = models.DateField(_("day"))
    count = models.PositiveIntegerField(_("members"))
    taken_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("segment snapshot")
        verbose_name_plural = _("segment snapshots")
        ordering = ["-day"]
        constraints = [
            models.UniqueConstraint(fields=["segment", "day"], name="segment_snapshot_unique")
        ]

    def __str__(self) -> str:
        return f"{self.segment_id} on {self.day}"
