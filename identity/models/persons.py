"""Persons and what identifies them: per-app identities (openids), unionids, the phone number."""

import base64
import secrets

from django.contrib.postgres.indexes import OpClass
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Cast, Upper
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from identity import crypto
from identity.models.client_apps import App, Platform
from identity.phones import mask_phone


def new_public_id() -> str:
    """Return an opaque, non-sequential person id (120 random bits) so ids cannot be enumerated."""
    return "p_" + base64.b32encode(secrets.token_bytes(15)).decode().lower()


class PersonQuerySet(models.QuerySet):
    def live(self):
        """Persons that are neither merged away nor erased."""
        return self.filter(merged_into__isnull=True, erased_at__isnull=True)


class Person(models.Model):
    """The unified human behind every openid, unionid and phone number.

    A merged-away person stays as a tombstone (`merged_into` set) so that its public id keeps
    resolving to the survivor and the merge can be undone. The phone is stored encrypted; the
    blind index `phone_index` carries the uniqueness constraint.
    """

    public_id = models.CharField(
        _("public id"), max_length=32, unique=True, default=new_public_id, editable=False
    )
    # NULL, not "", means "no phone": the unique constraint on the index must ignore it.
    phone_encrypted = models.TextField(null=True, blank=True, editable=False)  # noqa: DJ001
    phone_index = models.CharField(  # noqa: DJ001
        max_length=64, null=True, blank=True, editable=False
    )
    merged_into = models.ForeignKey(
        "self",
        verbose_name=_("merged into"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="absorbed",
    )
    merged_at = models.DateTimeField(_("merged at"), null=True, blank=True)
    erased_at = models.DateTimeField(_("erased at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = PersonQuerySet.as_manager()

    class Meta:
        verbose_name = _("person")
        verbose_name_plural = _("persons")
        constraints = [
            models.UniqueConstraint(fields=["phone_index"], name="person_phone_unique"),
            models.CheckConstraint(
                condition=Q(phone_index__isnull=True, phone_encrypted__isnull=True)
                | Q(phone_index__isnull=False, phone_encrypted__isnull=False),
                name="person_phone_pair",
            ),
            models.CheckConstraint(
                condition=Q(merged_into__isnull=True) | Q(phone_index__isnull=True),
                name="person_tombstone_without_phone",
            ),
            models.CheckConstraint(
                condition=~Q(merged_into=F("pk")), name="person_not_merged_into_itself"
            ),
        ]

    def __str__(self) -> str:
        return self.public_id

    @property
    def is_tombstone(self) -> bool:
        return self.merged_into_id is not None

    @property
    def phone_e164(self) -> str | None:
        return crypto.decrypt(self.phone_encrypted) if self.phone_encrypted else None

    @property
    def phone_masked(self) -> str | None:
        phone = self.phone_e164
        return mask_phone(phone) if phone else None


def _prefix_of(field: str) -> OpClass:
    """The expression of `field__istartswith` (UPPER(field::text) LIKE ...), indexed with the
    pattern operator class, so that the admin's prefix search reads an index under any
    collation."""
    return OpClass(Upper(Cast(field, models.TextField())), name="text_pattern_ops")


class UnionId(models.Model):
    """A platform-wide id (WeChat unionid) of a person: one per platform, one person per value."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="unionids")
    platform = models.CharField(
        _("platform"), max_length=16, choices=Platform.choices, default=Platform.WECHAT
    )
    unionid = models.CharField(_("unionid"), max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("unionid")
        verbose_name_plural = _("unionids")
        constraints = [
            models.UniqueConstraint(fields=["platform", "unionid"], name="unionid_unique"),
            models.UniqueConstraint(fields=["person", "platform"], name="unionid_one_per_platform"),
        ]
        indexes = [models.Index(_prefix_of("unionid"), name="unionid_upper_prefix")]

    def __str__(self) -> str:
        return f"{self.platform} unionid #{self.pk}"


class Identity(models.Model):
    """One openid in one app, owned by exactly one person; at most one per person and app.

    Service-account identities also carry the follow state fed by WeChat pushes.
    """

    app = models.ForeignKey(
        App, verbose_name=_("app"), on_delete=models.PROTECT, related_name="identities"
    )
    openid = models.CharField(_("openid"), max_length=64)
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="identities")
    followed = models.BooleanField(_("followed"), null=True, blank=True)
    followed_at = models.DateTimeField(_("followed at"), null=True, blank=True)
    unfollowed_at = models.DateTimeField(_("unfollowed at"), null=True, blank=True)
    subscribe_scene = models.CharField(_("subscribe scene"), max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("identity")
        verbose_name_plural = _("identities")
        constraints = [
            models.UniqueConstraint(fields=["app", "openid"], name="identity_openid_unique"),
            models.UniqueConstraint(fields=["person", "app"], name="identity_one_per_app"),
        ]
        indexes = [
            # "follows the service account" conditions and tag syncs read only the followers.
            models.Index(
                fields=["app", "person"],
                condition=models.Q(followed=True),
                name="identity_followers",
            ),
            models.Index(_prefix_of("openid"), name="identity_openid_upper_prefix"),
        ]

    def __str__(self) -> str:
        return f"identity #{self.pk}"
