"""The worker's schedule: periodic jobs declared next to the services they call, run without cron.

A domain app declares a scheduled job in its `tasks` module with `@scheduled(...)`: the function
becomes a procrastinate task (queue "periodic", one waiting and one running at a time) whose
every run is recorded (jobs.runs). `install()` (JobsConfig.ready, once procrastinate has
imported every `tasks` module) registers each job as periodic with its cron, read then from
`JOBS_SCHEDULE` (a setting: a cron per job name, "" to switch a job off) or the declared default.

Crons are read in `TIME_ZONE`: procrastinate hands them to croniter as UTC timestamps, and
croniter computes in the zone of the datetime it was first given, so each periodic task's
croniter is created here from an aware "now" in that zone ("0 3 * * *" is 03:00 in Shanghai,
not 03:00 UTC). Every worker defers the ticks; the database keeps one job per tick.
"""

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import croniter
from django.conf import settings
from django.utils import timezone
from procrastinate.contrib.django import app
from procrastinate.tasks import Task

from jobs.queue import enqueue
from jobs.runs import recorded_run
from jobs.selectors import job_waiting

QUEUE = "periodic"


@dataclass(frozen=True)
class ScheduledJob:
    name: str
    default_cron: str
    description: str
    task: Task

    @property
    def cron(self) -> str:
        """The cron in force: the `JOBS_SCHEDULE` entry when there is one, else the default."""
        return settings.JOBS_SCHEDULE.get(self.name, self.default_cron)

    def next_run(self, after: datetime | None = None) -> datetime | None:
        """When the next tick falls (aware, in TIME_ZONE), or None when the job is off."""
        if not self.cron:
            return None
        start = timezone.localtime(after or timezone.now(), _zone())
        return croniter.croniter(self.cron, start_time=start).get_next(datetime)


SCHEDULE: dict[str, ScheduledJob] = {}
_installed = False


def scheduled(
    *, name: str, cron: str, description: str, exclusive: bool = True, retry: int = 0
) -> Callable[[Callable[..., dict | None]], Task]:
    """Declare `func` (no arguments, returning a small JSON summary) as a scheduled job.

    Its task keeps one job waiting (queueing lock) so that ticks missed while a run lasts, or
    while no worker runs, coalesce instead of piling up; `exclusive` also keeps one running
    (a lock), which the job that frees the locks of dead workers must not take.
    """

    def decorator(func: Callable[..., dict | None]) -> Task:
        @functools.wraps(func)
        def run(context=None, timestamp: int | None = None) -> dict:
            job_id = context.job.id if context is not None else None
            with recorded_run(name, job_id=job_id) as record:
                record.result = func() or {}
            return record.result

        task = app.task(
            name=name,
            queue=QUEUE,
            lock=name if exclusive else None,
            queueing_lock=name,
            pass_context=True,
            retry=retry,
        )(run)
        job = ScheduledJob(name=name, default_cron=cron, description=description, task=task)
        if name in SCHEDULE:
            raise ValueError(f"Scheduled job {name} is declared twice.")
        SCHEDULE[name] = job
        if _installed:
            _register(job)
        return task

    return decorator


def install() -> None:
    """Register every declared job as periodic (JobsConfig.ready calls this once)."""
    global _installed
    if _installed:
        return
    _installed = True
    for job in SCHEDULE.values():
        _register(job)


def _register(job: ScheduledJob) -> None:
    if not job.cron:
        return
    periodic = app.periodic_registry.register_task(
        task=job.task, cron=job.cron, periodic_id=job.name, configure_kwargs={}
    )
    # The cached croniter of the periodic task, made in TIME_ZONE (see the module docstring).
    periodic.__dict__["croniter"] = croniter.croniter(job.cron, start_time=datetime.now(_zone()))


def _zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def get(name: str) -> ScheduledJob | None:
    return SCHEDULE.get(name)


def run_now(job: ScheduledJob) -> bool:
    """Queue a run of `job` now (the admin's button); False when one already waits.

    The run takes the job's queueing lock, so it coalesces with a waiting tick: two clicks,
    or a click just before the tick, run the job once.
    """
    if job_waiting(job.name):
        return False
    enqueue(job.task, queueing_lock=job.name)
    return True
