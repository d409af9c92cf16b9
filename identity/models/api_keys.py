"""Callers' API keys: hashed at rest, with scopes and an optional app restriction."""

import hashlib
import secrets

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils.translation import gettext_lazy as _

from identity.models.client_apps import App

KEY_PREFIX = "uik"


def hash_key(raw_key: str) -> str:
    """Hash an API key for storage and lookup.

    Keys carry 256 random bits, so a fast hash is enough: there is nothing to brute-force.
    """
    return hashlib.sha256(raw_key.encode()).hexdigest()


def generate_key() -> tuple[str, str]:
    """Return (prefix, full key). The prefix identifies the key in lists and logs."""
    prefix = secrets.token_hex(4)
    return prefix, f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"


class ApiKey(models.Model):
    """A caller's credential: hashed at rest, with scopes and an optional app restriction."""

    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(_("prefix"), max_length=16, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    scopes = ArrayField(models.CharField(max_length=32), verbose_name=_("scopes"), default=list)
    apps = models.ManyToManyField(
        App,
        verbose_name=_("apps"),
        blank=True,
        help_text=_("Restrict the key to these apps; empty means every app."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)

    class Meta:
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes
