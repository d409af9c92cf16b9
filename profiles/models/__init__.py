from profiles.models.events import Event, EventRollup, EventType
from profiles.models.stats import PersonEventStats, PersonStats, PruneRun

__all__ = [
    "Event",
    "EventRollup",
    "EventType",
    "PersonEventStats",
    "PersonStats",
    "PruneRun",
]
