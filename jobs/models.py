"""The record of scheduled runs: when each periodic job last ran, how long, and how it ended.

procrastinate keeps its own rows per job (`procrastinate_jobs`, `procrastinate_events`), but
not what an operator asks first: "did last night's refresh run, how long did it take, why did
it fail". A JobRun answers that per run, written by `jobs.schedule` around every scheduled
task, outside the task's own transactions so that a failed run is recorded too.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Outcome(models.TextChoices):
    RUNNING = "running", _("running")
    OK = "ok", _("ok")
    FAILED = "failed", _("failed")
    INTERRUPTED = "interrupted", _("interrupted")


class JobRun(models.Model):
    """One run of a scheduled job (a tick of its schedule, or "run now" in the admin).

    `error` holds the exception's class and a short, safe message (database errors by their
    SQLSTATE only, never the server's text, which quotes values); `result` is the job's small
    summary (counts, keys). A run whose worker was killed stays `running` until the stalled-job
    retry marks it `interrupted`.
    """

    task_name = models.CharField(_("job"), max_length=128)
    job_id = models.BigIntegerField(_("queue job id"), null=True, blank=True)
    started_at = models.DateTimeField(_("started at"))
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    duration = models.DurationField(_("duration"), null=True, blank=True)
    outcome = models.CharField(
        _("outcome"), max_length=16, choices=Outcome.choices, default=Outcome.RUNNING
    )
    error = models.CharField(_("error"), max_length=300, blank=True)
    result = models.JSONField(_("result"), default=dict, blank=True)

    class Meta:
        verbose_name = _("job run")
        verbose_name_plural = _("job runs")
        ordering = ["-started_at", "-id"]
        indexes = [
            # The schedule page: the latest run of each job (DISTINCT ON task_name).
            models.Index(fields=["task_name", "-started_at"], name="jobrun_task_latest"),
            # The history's default order and the pruning of old runs.
            models.Index(fields=["started_at"], name="jobrun_started"),
            # The stalled-job retry marks the runs of the jobs it retries.
            models.Index(
                fields=["job_id"],
                name="jobrun_running_job",
                condition=models.Q(finished_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.task_name} #{self.pk}"


class ScheduledJob(JobRun):
    """The admin's "Scheduled jobs" page (a proxy: the schedule lives in code, not a table).

    Its permission `run_scheduled_job` lets staff start a job now.
    """

    class Meta:
        proxy = True
        verbose_name = _("scheduled job")
        verbose_name_plural = _("scheduled jobs")
        permissions = [("run_scheduled_job", _("Can run a scheduled job now"))]
