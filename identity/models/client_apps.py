"""The apps a company runs (mini-programs, accounts, H5 pages) with their encrypted secrets."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from identity import crypto


class Platform(models.TextChoices):
    WECHAT = "wechat", "WeChat"
    ALIPAY = "alipay", "Alipay"
    DOUYIN = "douyin", "Douyin"


class AppKind(models.TextChoices):
    MINIPROGRAM = "miniprogram", _("Mini-program")
    SERVICE_ACCOUNT = "service_account", _("Service account")
    SUBSCRIPTION_ACCOUNT = "subscription_account", _("Subscription account")
    H5 = "h5", _("H5 pages")
    MOBILE_APP = "mobile_app", _("Mobile app")
    WEBSITE = "website", _("Website")


class App(models.Model):
    """One client app of the company; every openid belongs to exactly one.

    Secrets are stored encrypted and never leave the service: the admin form takes them
    write-only and the API never returns them.
    """

    appid = models.CharField(_("appid"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=100)
    platform = models.CharField(
        _("platform"), max_length=16, choices=Platform.choices, default=Platform.WECHAT
    )
    kind = models.CharField(_("kind"), max_length=32, choices=AppKind.choices)
    original_id = models.CharField(
        _("original id"), max_length=32, blank=True, help_text=_("gh_... id of an account.")
    )
    secret_encrypted = models.TextField(blank=True, editable=False)
    callback_token_encrypted = models.TextField(blank=True, editable=False)
    aes_key_encrypted = models.TextField(blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("app")
        verbose_name_plural = _("apps")
        ordering = ["appid"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(platform__in=Platform.values), name="app_platform_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(kind__in=AppKind.values), name="app_kind_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.appid})"

    @property
    def is_service_account(self) -> bool:
        return self.kind == AppKind.SERVICE_ACCOUNT

    def get_secret(self) -> str:
        return crypto.decrypt(self.secret_encrypted) if self.secret_encrypted else ""

    def set_secret(self, value: str) -> None:
        self.secret_encrypted = crypto.encrypt(value) if value else ""

    def get_callback_token(self) -> str:
        token = self.callback_token_encrypted
        return crypto.decrypt(token) if token else ""

    def set_callback_token(self, value: str) -> None:
        self.callback_token_encrypted = crypto.encrypt(value) if value else ""

    def get_aes_key(self) -> str:
        return crypto.decrypt(self.aes_key_encrypted) if self.aes_key_encrypted else ""

    def set_aes_key(self, value: str) -> None:
        self.aes_key_encrypted = crypto.encrypt(value) if value else ""
