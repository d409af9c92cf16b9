from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class JobsConfig(AppConfig):
    """Background work: the durable queue (procrastinate), the worker, the schedule and its
    records. Plumbing like `config`: domain apps declare their jobs in their `tasks` modules
    and enqueue them through `jobs.queue`; this app imports none of them."""

    name = "jobs"
    label = "jobs"
    verbose_name = _("Background jobs")

    def ready(self) -> None:
        # procrastinate's app (listed before this one) has imported every `tasks` module by
        # now: their scheduled jobs become periodic with the crons the settings give.
        from jobs import schedule

        schedule.install()
