"""Segments mirrored as service-account user tags, and the openids tagged for each."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from identity.models import App, Identity
from profiles.models import Segment


class WeChatTagSync(models.Model):
    """A segment mirrored as a service-account user tag, for mass sends by tag."""

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="wechat_syncs")
    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="+")
    wechat_tag_id = models.BigIntegerField(_("WeChat tag id"), null=True, blank=True)
    wechat_tag_name = models.CharField(_("WeChat tag name"), max_length=30, blank=True)
    last_synced_at = models.DateTimeField(_("last synced"), null=True, blank=True)
    last_added = models.PositiveIntegerField(_("added"), default=0)
    last_removed = models.PositiveIntegerField(_("removed"), default=0)
    last_failed = models.PositiveIntegerField(_("failed"), default=0)
    last_error = models.CharField(_("last error"), max_length=200, blank=True)

    class Meta:
        db_table = "profiles_wechattagsync"  # created under profiles before platforms/ existed
        verbose_name = _("WeChat tag sync")
        verbose_name_plural = _("WeChat tag syncs")
        constraints = [
            models.UniqueConstraint(fields=["segment", "app"], name="wechat_tag_sync_unique")
        ]

    def __str__(self) -> str:
        return f"{self.segment_id} -> {self.app_id}"


class WeChatTagMember(models.Model):
    """An openid the service has tagged for a sync (what to untag when the person leaves)."""

    sync = models.ForeignKey(WeChatTagSync, on_delete=models.CASCADE, related_name="members")
    identity = models.ForeignKey(Identity, on_delete=models.CASCADE, related_name="+")

    class Meta:
        db_table = "profiles_wechattagmember"
        verbose_name = _("WeChat tag member")
        verbose_name_plural = _("WeChat tag members")
        constraints = [
            models.UniqueConstraint(fields=["sync", "identity"], name="wechat_tag_member_unique")
        ]

    def __str__(self) -> str:
        return f"identity #{self.identity_id} in sync #{self.sync_id}"
