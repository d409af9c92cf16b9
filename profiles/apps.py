from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ProfilesConfig(AppConfig):
    """Behavioural events, stats, tags and segments (built on the identity graph)."""

    name = "profiles"
    verbose_name = _("Profiles")

    def ready(self) -> None:
        from identity.person_sections import register_section
        from identity.seen import register_seen_recorder
        from identity.services.person_data import register_mover
        from jobs.backlog import register as register_backlog
        from profiles import integrity
        from profiles.models import PendingEvents
        from profiles.person_sections import STATS_SECTION, TAGS_SECTION
        from profiles.services.person_events import EVENTS_MOVER
        from profiles.services.person_tags import TAGS_MOVER
        from profiles.services.pipeline import sweep_pending
        from profiles.services.seen import record_seen

        register_mover(EVENTS_MOVER)
        register_mover(TAGS_MOVER)
        register_section(TAGS_SECTION)
        register_section(STATS_SECTION)
        # Resolves and logins mark their person seen (first/last seen, the lifecycle tags).
        register_seen_recorder("profiles", record_seen)
        integrity.register()
        # The events waiting for the worker, for /healthz and the admin (jobs/backlog.py).
        register_backlog(
            "pending_events",
            age_key="oldest_pending_seconds",
            model=PendingEvents,
            count_field="event_count",
            since_field="accepted_at",
            catch_up=sweep_pending,
        )
