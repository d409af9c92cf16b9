from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ProfilesConfig(AppConfig):
    """Behavioural events, stats, tags and segments (built on the identity graph)."""

    name = "profiles"
    verbose_name = _("Profiles")
