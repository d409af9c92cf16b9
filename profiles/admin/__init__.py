"""Django admin of events, stats, tags and segments; every write goes through a service."""

from identity.admin.person_extensions import register_person_admin_extension
from profiles.admin import (
    activity,
    event_types,
    events,
    pending_events,
    persons,
    segments,
    tag_groups,
    tags,
)

# The person pages stay identity's; profiles adds its columns, filters, actions and sections.
register_person_admin_extension(persons.PERSON_ADMIN_EXTENSION)

__all__ = [
    "activity",
    "event_types",
    "events",
    "pending_events",
    "persons",
    "segments",
    "tag_groups",
    "tags",
]
