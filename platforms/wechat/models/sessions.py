"""Per-account WeChat state: mini-program session keys and follower-import runs."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from identity import crypto
from identity.models import App, Identity


class WeChatSession(models.Model):
    """The latest mini-program session key of an identity, encrypted; it never leaves the service.

    Kept for the legacy encrypted-data flows (AES-128-CBC with the session key).
    """

    identity = models.OneToOneField(
        Identity, on_delete=models.CASCADE, primary_key=True, related_name="wechat_session"
    )
    session_key_encrypted = models.TextField(editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "identity_wechatsession"  # created under identity before platforms/ existed
        verbose_name = _("WeChat session")
        verbose_name_plural = _("WeChat sessions")

    def __str__(self) -> str:
        return f"session of identity #{self.identity_id}"

    @property
    def session_key(self) -> str:
        return crypto.decrypt(self.session_key_encrypted)


class FollowerImport(models.Model):
    """One run of `wechat_import_followers`: where it stands, so that it can resume."""

    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="follower_imports")
    next_openid = models.CharField(max_length=64, blank=True)
    # Followers of the current page already resolved (the page restarts here on resume).
    page_offset = models.PositiveIntegerField(default=0)
    pages_done = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    followers_seen = models.PositiveIntegerField(default=0)
    persons_created = models.PositiveIntegerField(default=0)
    errors = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "identity_followerimport"
        verbose_name = _("follower import")
        verbose_name_plural = _("follower imports")
        ordering = ["-started_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["app"],
                condition=models.Q(finished_at__isnull=True),
                name="follower_import_one_running",
            )
        ]

    def __str__(self) -> str:
        return f"follower import #{self.pk}"
