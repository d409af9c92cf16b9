from profiles.models.events import Event, EventRollup, EventType
from profiles.models.pipeline import PendingEvents
from profiles.models.segments import Segment, SegmentSnapshot
from profiles.models.stats import PersonEventStats, PersonStats, PruneRun
from profiles.models.tags import Tag, TagAssignment, TagGroup, TagKind, TagSource

__all__ = [
    "Event",
    "EventRollup",
    "EventType",
    "PendingEvents",
    "PersonEventStats",
    "PersonStats",
    "PruneRun",
    "Segment",
    "SegmentSnapshot",
    "Tag",
    "TagAssignment",
    "TagGroup",
    "TagKind",
    "TagSource",
]
