"""Django admin of events, stats, tags and segments; every write goes through a service."""

from identity.admin.person_extensions import register_person_admin_extension
from profiles.admin import (
    activity,
    event_types,
    events,
    merge_notes,
    pending_events,
    person_why,
    persons,
    segments,
    tag_groups,
    tags,
)

# The person pages stay identity's; profiles adds its columns, filters, actions and sections.
register_person_admin_extension(persons.PERSON_ADMIN_EXTENSION)
register_person_admin_extension(person_why.PERSON_WHY_EXTENSION)
# Merge records name the tags and events that profiles moved (identity.admin.merge_notes); the
# merge preview says a person's tags and stats in words (identity.admin.merge_parts).
merge_notes.register()

__all__ = [
    "activity",
    "event_types",
    "events",
    "pending_events",
    "person_why",
    "persons",
    "segments",
    "tag_groups",
    "tags",
]
