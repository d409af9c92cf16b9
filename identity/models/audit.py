"""The audit log: who changed what, written in the change's own transaction."""

from dataclasses import dataclass

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from identity.models.persons import Person


class ActorType(models.TextChoices):
    API_KEY = "api_key", _("API key")
    ADMIN = "admin", _("Admin user")
    SYSTEM = "system", _("System")


@dataclass(frozen=True)
class Actor:
    """Who makes a change; every service takes one so that the audit entry can name it."""

    type: str
    label: str

    @classmethod
    def api_key(cls, key) -> "Actor":
        return cls(ActorType.API_KEY, f"{key.name} ({key.prefix})")

    @classmethod
    def admin(cls, user) -> "Actor":
        return cls(ActorType.ADMIN, user.get_username())

    @classmethod
    def system(cls, what: str) -> "Actor":
        return cls(ActorType.SYSTEM, what)

    def __str__(self) -> str:
        return f"{self.type}:{self.label}"


class AuditEntry(models.Model):
    """An append-only record of one change, written in the change's own transaction.

    `before` and `after` never hold personal values in clear: phones appear masked, openids and
    unionids by database id.
    """

    created_at = models.DateTimeField(_("when"), default=timezone.now, db_index=True)
    actor_type = models.CharField(_("actor type"), max_length=16, choices=ActorType.choices)
    actor = models.CharField(_("actor"), max_length=200)
    action = models.CharField(_("action"), max_length=64, db_index=True)
    person = models.ForeignKey(
        Person,
        verbose_name=_("person"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="audit_entries",
    )
    target = models.CharField(_("target"), max_length=200, blank=True)
    before = models.JSONField(_("before"), null=True, blank=True)
    after = models.JSONField(_("after"), null=True, blank=True)

    class Meta:
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit entries")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["person", "-created_at"], name="audit_person_time")]

    def __str__(self) -> str:
        return f"{self.action} #{self.pk}"
