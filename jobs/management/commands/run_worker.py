import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from jobs.worker import WorkerOptions, run_worker


class Command(BaseCommand):
    help = (
        "Run the background worker: the event pipeline, the schedule (rule refreshes, "
        "snapshots, partitions, pruning, repairs) and every deferred job. SIGTERM or SIGINT "
        "finishes the running jobs and exits; a second signal exits at once."
    )
    # The worker runs for days: system checks belong to deploys, not to every restart.
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument(
            "--queue",
            action="append",
            dest="queues",
            metavar="NAME",
            help="Take jobs of this queue only (repeatable; default: every queue).",
        )
        parser.add_argument(
            "--concurrency",
            type=int,
            default=None,
            help="Jobs run at once, each in its own thread and database connection "
            "(default: JOBS_WORKER_CONCURRENCY, 4).",
        )
        parser.add_argument(
            "--until-empty",
            action="store_true",
            help="Run what is queued (and what those jobs queue), then exit; no schedule.",
        )
        parser.add_argument(
            "--stop-timeout",
            type=float,
            default=None,
            help="Seconds a graceful stop waits for running jobs before exiting at once "
            "(default: JOBS_STOP_TIMEOUT_SECONDS, 60; 0 waits for as long as they take).",
        )
        parser.add_argument("--name", default="worker", help="Name in procrastinate's logs.")

    def handle(self, *args, queues, concurrency, until_empty, stop_timeout, name, **options):
        if concurrency is None:
            concurrency = settings.JOBS_WORKER_CONCURRENCY
        if concurrency < 1:
            raise CommandError("--concurrency must be at least 1.")
        if stop_timeout is None:
            stop_timeout = settings.JOBS_STOP_TIMEOUT_SECONDS
        if stop_timeout < 0:
            raise CommandError("--stop-timeout must be 0 or more.")
        code = run_worker(
            WorkerOptions(
                queues=queues or None,
                concurrency=concurrency,
                until_empty=until_empty,
                stop_timeout=stop_timeout or None,
                heartbeat_seconds=settings.JOBS_HEARTBEAT_SECONDS,
                stalled_seconds=settings.JOBS_STALLED_SECONDS,
                name=name,
            )
        )
        if code:
            sys.exit(code)
