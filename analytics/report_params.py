"""What a report is asked for: the report names, the choices of their parameters, and the frozen
parameters and cells that analytics.params validates requests into and the reports read.

Apart from validation (analytics.params), so that a report, a chart or an export can name its
parameters without the serializers that build them.
"""

from dataclasses import dataclass
from datetime import date

from analytics.audience import Audience
from analytics.periods import periods_between
from identity.models import App

ANY = "any"
RETENTION, FUNNEL, LIFECYCLE, ACTIVE, ACQUISITION, SETTLE = (
    "retention",
    "funnel",
    "lifecycle",
    "active",
    "acquisition",
    "settle",
)
REPORTS = (RETENTION, FUNNEL, LIFECYCLE, ACTIVE, ACQUISITION, SETTLE)
# The reports whose cells can be saved as a tag (analytics.md, "Acting on a report").
CELL_REPORTS = (RETENTION, LIFECYCLE, FUNNEL)
FIRST_TIME, RECURRING = "first_time", "recurring"
BY_FIRST_CHANNEL, BY_APP = "first_channel", "app"
LIFECYCLE_STATES = ("new", "returning", "resurrecting", "dormant")
# Far from date.min and date.max, so that every look-back and period end of a report exists.
EARLIEST, LATEST = date(1970, 1, 1), date(9998, 12, 31)


@dataclass(frozen=True)
class Range:
    """The requested local dates and the starts of the periods that intersect them."""

    period: str
    date_from: date
    date_to: date

    @property
    def starts(self) -> list[date]:
        return periods_between(self.date_from, self.date_to, self.period)


@dataclass(frozen=True)
class RetentionParams:
    audience: Audience
    range: Range
    start_event: str | None  # None: any type
    return_event: str | None
    mode: str = FIRST_TIME
    cumulative: bool = False


@dataclass(frozen=True)
class FunnelParams:
    audience: Audience
    range: Range  # period DAY: only the dates count
    steps: tuple[str | None, ...]
    window_days: int = 14


@dataclass(frozen=True)
class LifecycleParams:
    audience: Audience
    range: Range
    event: str | None


@dataclass(frozen=True)
class ActiveParams:
    audience: Audience
    range: Range  # period DAY
    event: str | None


@dataclass(frozen=True)
class AcquisitionParams:
    audience: Audience
    range: Range
    by: str = BY_FIRST_CHANNEL


@dataclass(frozen=True)
class SettleParams:
    audience: Audience  # its segment restricts the visitors; its apps are not used
    range: Range
    miniprogram: App
    service_account: App


@dataclass(frozen=True)
class RetentionCell:
    cohort: date
    offset: int


@dataclass(frozen=True)
class LifecycleCell:
    period: date
    state: str


@dataclass(frozen=True)
class FunnelCell:
    step: int  # 1-based
    dropped: bool  # True: reached `step` but not the next one
