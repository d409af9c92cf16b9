"""Django admin of events, stats, tags and segments; every write goes through a service."""

from profiles.admin import event_types, events, persons, segments, tag_groups, tags

__all__ = ["event_types", "events", "persons", "segments", "tag_groups", "tags"]
