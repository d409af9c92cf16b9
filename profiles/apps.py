from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ProfilesConfig(AppConfig):
    """Behavioural events, stats, tags and segments (built on the identity graph)."""

    name = "profiles"
    verbose_name = _("Profiles")

    def ready(self) -> None:
        from identity.person_sections import register_section
        from identity.services.person_data import register_mover
        from profiles import integrity
        from profiles.person_sections import STATS_SECTION, TAGS_SECTION
        from profiles.services.person_events import EVENTS_MOVER
        from profiles.services.person_tags import TAGS_MOVER

        register_mover(EVENTS_MOVER)
        register_mover(TAGS_MOVER)
        register_section(TAGS_SECTION)
        register_section(STATS_SECTION)
        integrity.register()
