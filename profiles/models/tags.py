"""Tag groups, manual and rule tags, and their assignments to persons."""

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from identity.models import Person
from profiles.presets import group_name, tag_name


class TagGroup(models.Model):
    """A family of tags (lifecycle, value, interest, channel); an exclusive group lets a person
    hold at most one of its tags, which the database enforces on assignments."""

    key = models.SlugField(_("key"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=100)
    exclusive = models.BooleanField(
        _("exclusive"), default=False, help_text=_("A person holds at most one tag of the group.")
    )
    description = models.TextField(_("description"), blank=True)

    class Meta:
        verbose_name = _("tag group")
        verbose_name_plural = _("tag groups")
        ordering = ["key"]

    def __str__(self) -> str:
        return group_name(self.key, self.name)


class TagKind(models.TextChoices):
    MANUAL = "manual", _("Manual")
    RULE = "rule", _("Rule")


class Tag(models.Model):
    """A label on persons: set by hand (`manual`) or kept equal to a condition (`rule`)."""

    key = models.SlugField(_("key"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=100)
    group = models.ForeignKey(
        TagGroup,
        verbose_name=_("group"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="tags",
    )
    kind = models.CharField(
        _("kind"), max_length=8, choices=TagKind.choices, default=TagKind.MANUAL
    )
    condition = models.JSONField(
        _("condition"), null=True, blank=True, help_text=_("Rule tags only: who holds the tag.")
    )
    description = models.TextField(_("description"), blank=True)
    last_refreshed_at = models.DateTimeField(_("last refreshed"), null=True, blank=True)
    last_refresh_added = models.PositiveIntegerField(default=0)
    last_refresh_removed = models.PositiveIntegerField(default=0)
    # How long the last refresh of everyone took: staff read it to judge a slow condition.
    last_refresh_duration = models.DurationField(
        _("last refresh duration"), null=True, blank=True, editable=False
    )
    # Why the last refresh failed (safe to show: no values, no personal data), cleared by the
    # next one that succeeds. Ingestion goes on when a refresh fails, so this is where it shows.
    last_refresh_error = models.TextField(_("last refresh error"), blank=True, default="")
    last_refresh_failed_at = models.DateTimeField(_("last refresh failed"), null=True, blank=True)
    # Whether the recorded failure was a refresh of everyone: a refresh of a few persons (an
    # ingest's) that succeeds proves nothing about a full one that timed out, so only a full
    # success clears such a failure.
    last_refresh_failure_full = models.BooleanField(default=False, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("tag")
        verbose_name_plural = _("tags")
        ordering = ["key"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="manual", condition__isnull=True)
                | Q(kind="rule", condition__isnull=False),
                name="tag_rule_has_condition",
            ),
        ]

    def __str__(self) -> str:
        return tag_name(self.key, self.name)

    @property
    def is_rule(self) -> bool:
        return self.kind == TagKind.RULE


class TagSource(models.TextChoices):
    ADMIN = "admin", _("Admin")
    API = "api", _("API")
    RULE = "rule", _("Rule")
    IMPORT = "import", _("Import")


class TagAssignmentQuerySet(models.QuerySet):
    def active(self, at=None):
        """Assignments that have not expired: expired tags are inactive everywhere."""
        at = at or timezone.now()
        return self.filter(Q(expires_at__isnull=True) | Q(expires_at__gt=at))


class TagAssignment(models.Model):
    """A tag held by a person, with where it came from, who set it, when, and until when.

    `exclusive_group` copies the tag's group when that group is exclusive, so that one unique
    constraint keeps a person to one tag per exclusive group.
    """

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="tag_assignments")
    tag = models.ForeignKey(
        Tag, verbose_name=_("tag"), on_delete=models.CASCADE, related_name="assignments"
    )
    exclusive_group = models.ForeignKey(
        TagGroup, null=True, blank=True, on_delete=models.CASCADE, related_name="+", editable=False
    )
    source = models.CharField(_("source"), max_length=8, choices=TagSource.choices)
    assigned_by = models.CharField(_("assigned by"), max_length=200, blank=True)
    assigned_at = models.DateTimeField(_("assigned at"), default=timezone.now)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)

    objects = TagAssignmentQuerySet.as_manager()

    class Meta:
        verbose_name = _("tag assignment")
        verbose_name_plural = _("tag assignments")
        constraints = [
            models.UniqueConstraint(fields=["person", "tag"], name="tag_assignment_unique"),
            models.UniqueConstraint(
                fields=["person", "exclusive_group"], name="tag_assignment_exclusive"
            ),
        ]
        indexes = [models.Index(fields=["tag", "person"], name="tag_assignment_members")]

    def __str__(self) -> str:
        return f"{self.tag_id} on person #{self.person_id}"
