from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WeChatConfig(AppConfig):
    name = "platforms.wechat"
    label = "wechat"
    verbose_name = _("WeChat")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from identity.services.key_rotation import register_encrypted_column
        from platforms.wechat.models import WeChatSession

        register_encrypted_column(WeChatSession, "session_key_encrypted")
