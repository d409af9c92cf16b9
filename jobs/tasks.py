"""The queue's own scheduled jobs (thin wrappers: the work is in jobs.maintenance)."""

from datetime import timedelta

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from jobs import maintenance
from jobs.schedule import scheduled


@scheduled(
    name="jobs.retry_stalled_jobs",
    cron="* * * * *",
    description=_("Retry the jobs of workers that stopped without finishing them"),
    # Not exclusive: a stalled run of this very job holds its lock until this job frees it.
    exclusive=False,
)
def retry_stalled_jobs() -> dict:
    return maintenance.retry_stalled_jobs(
        seconds_since_heartbeat=settings.JOBS_STALLED_SECONDS
    ).as_dict()


@scheduled(
    name="jobs.prune_job_history",
    cron="40 * * * *",
    description=_("Delete finished queue jobs and old job runs"),
)
def prune_job_history() -> dict:
    return maintenance.prune_job_history(
        keep_succeeded=timedelta(hours=settings.JOBS_KEEP_SUCCEEDED_HOURS),
        keep_other=timedelta(days=settings.JOBS_HISTORY_DAYS),
    )
