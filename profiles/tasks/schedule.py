"""The scheduled jobs of profiles, run by the worker instead of cron (thin: services do the work).

Times are TIME_ZONE's (Asia/Shanghai by default), in the quiet hours, each overridable by
`JOBS_SCHEDULE`. The order of a night: time-based rule tags just after midnight, partitions
at 02:20, every rule tag at 03:00, pruning at 04:30, the activity repair at 05:00; segment
sizes at 23:50, the day's last word on them.
"""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from identity.models import Actor
from jobs.runs import JobIncomplete
from jobs.schedule import scheduled
from profiles.selectors import time_dependent_rule_tags
from profiles.services.activity import repair_activity
from profiles.services.partitions import ensure_partitions
from profiles.services.pipeline import sweep_pending
from profiles.services.prune import DROPPED, prune_events
from profiles.services.rules import RefreshResult, refresh_rule_tags
from profiles.services.segments import snapshot_segments

PARTITION_MONTHS_AHEAD = 3
ACTIVITY_REPAIR_DAYS = 2


@scheduled(
    name="profiles.sweep_pending_events",
    cron="* * * * *",
    description=_("Enqueue the event pipeline when accepted events still wait"),
)
def sweep_pending_events() -> dict:
    return {"pending_rows": sweep_pending()}


@scheduled(
    name="profiles.refresh_rule_tags",
    cron="0 3 * * *",
    description=_("Refresh every rule tag for everyone"),
)
def refresh_all_rule_tags() -> dict:
    return _refreshed(refresh_rule_tags(actor=Actor.system("schedule: rule tags")))


@scheduled(
    name="profiles.refresh_time_rule_tags",
    cron="5 0 * * *",
    description=_("Refresh the rule tags whose conditions depend on the date"),
)
def refresh_time_rule_tags() -> dict:
    """Refresh the rule tags that change with the date alone, just after local midnight.

    "Seen within 30 days", "paid more than 90 days ago", event windows and the expiry of
    manual tags change who matches with no event at all, so no ingest refreshes them; the 03:00
    full refresh does, but it is the night's heaviest job (every tag over everyone), may fail
    on one slow tag, and can be moved or thinned out without the day's lifecycle tags (new,
    active, cooling, dormant, churned) being a day late.
    """
    keys = time_dependent_rule_tags()
    if not keys:
        return {"tags": 0}
    return _refreshed(refresh_rule_tags(actor=Actor.system("schedule: date rules"), keys=keys))


@scheduled(
    name="profiles.snapshot_segments",
    cron="50 23 * * *",
    description=_("Record the size of every segment for the day"),
)
def snapshot_segment_sizes() -> dict:
    return {"segments": len(snapshot_segments())}


@scheduled(
    name="profiles.ensure_partitions",
    cron="20 2 * * *",
    description=_("Create the event partitions of the coming months"),
)
def ensure_event_partitions() -> dict:
    return {"created": ensure_partitions(months_ahead=PARTITION_MONTHS_AHEAD)}


@scheduled(
    name="profiles.prune_events",
    cron="30 4 * * *",
    description=_("Fold events past the retention period into rollups and drop them"),
)
def prune_old_events() -> dict:
    days = settings.EVENT_RETENTION_DAYS
    run = prune_events(cutoff=timezone.now() - timedelta(days=days))
    return {
        "retention_days": days,
        "events_deleted": run.events_deleted,
        # Months left for a later run: still holding pending events, or locked by a writer.
        "skipped": [f"{o.name} ({o.status})" for o in run.outcomes if o.status != DROPPED],
    }


@scheduled(
    name="profiles.repair_activity",
    cron="0 5 * * *",
    description=_("Rebuild the daily activity rollups of the last two days"),
)
def repair_daily_activity() -> dict:
    return {"repaired": repair_activity(days=ACTIVITY_REPAIR_DAYS)}


def _refreshed(results: list[RefreshResult]) -> dict:
    summary = {
        "tags": len(results),
        "added": sum(r.added for r in results),
        "removed": sum(r.removed for r in results),
        "failed": [r.tag for r in results if r.failed],
    }
    if summary["failed"]:
        raise JobIncomplete(f"Rule tags not refreshed: {', '.join(summary['failed'])}.", summary)
    return summary
