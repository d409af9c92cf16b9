from profiles.models.activity import DailyActivity
from profiles.models.events import Event, EventKey, EventRollup, EventType
from profiles.models.pipeline import PendingEvents
from profiles.models.segments import Segment, SegmentSnapshot
from profiles.models.stats import PersonEventStats, PersonStats, PruneRun
from profiles.models.tags import Tag, TagAssignment, TagGroup, TagKind, TagSource

__all__ = [
    "DailyActivity",
    "Event",
    "EventKey",
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
