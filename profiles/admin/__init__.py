"""Django admin of events and stats; event types are written through their service functions."""

from profiles.admin import event_types, events, persons

__all__ = ["event_types", "events", "persons"]
