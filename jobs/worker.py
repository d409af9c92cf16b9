"""The worker process (`manage.py run_worker`): procrastinate's worker, wired for Django.

Two kinds of connections, on purpose. The worker's own bookkeeping (fetch a job, record its
end, heartbeats, LISTEN for new jobs) runs on an asyncio psycopg pool. Everything a job does
runs in the job's thread on that thread's Django connection, and so does a job's own `defer`:
`WorkerConnector` hands procrastinate's synchronous calls to the Django connection, so that a
job enqueued by a job commits or rolls back with the job's transaction, as in the web process.
Django connections are per thread and procrastinate runs sync tasks in a thread pool, so the
stale ones are closed around every job (as Django does around every request).

Stopping: SIGTERM or SIGINT stops taking jobs and lets the running ones finish; a second
signal, or the stop timeout, exits at once. Nothing is lost either way: a job's writes are its
transaction, rolled back with the connection, and the job itself stays `doing` under this
worker until `jobs.retry_stalled_jobs` puts it back in the queue once the heartbeat is stale.
"""

import asyncio
import contextlib
import logging
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from django.db import connections
from procrastinate import periodic, psycopg_connector
from procrastinate import worker as procrastinate_worker
from procrastinate.contrib.django import procrastinate_app
from procrastinate.contrib.django.utils import connector_params

from jobs import backlog
from jobs.runs import DatabaseErrorsByKind
from jobs.stopping import JobCounter, Stopper

logger = logging.getLogger("jobs.worker")

POOL_SIZE = 3


@dataclass(frozen=True)
class WorkerOptions:
    queues: list[str] | None
    concurrency: int
    until_empty: bool
    stop_timeout: float | None
    heartbeat_seconds: float
    stalled_seconds: float
    name: str = "worker"


class WorkerConnector(psycopg_connector.PsycopgConnector):
    """An asyncio pool for the worker's bookkeeping; the Django connection for sync calls."""

    def __init__(self, *, sync_connector, **pool_args):
        super().__init__(**pool_args)
        self._django_connector = sync_connector

    def get_sync_connector(self):
        return self._django_connector


class _Worker(procrastinate_worker.Worker):
    """procrastinate's worker, announcing itself once registered (it then has its id)."""

    def __init__(self, *, on_start, **kwargs):
        super().__init__(**kwargs)
        self._on_start = on_start

    async def _run_loop(self):
        self._on_start(self.worker_id)
        await super()._run_loop()


def run_worker(options: WorkerOptions) -> int:
    """Run the worker until stopped (or, with `until_empty`, until the queue is empty).

    Return the process exit code: 0 after a requested stop or an emptied queue, 1 when the
    worker stopped on its own (it lost the database: a supervisor restarts it).
    """
    # Work whose job died with a killed worker is picked up now, not at its stalled retry
    # (and `--until-empty` drains it too).
    backlog.catch_up_all()
    connections.close_all()  # nothing opened by start-up code is carried into job threads
    for name in ("procrastinate.worker", f"procrastinate.worker.{options.name}", logger.name):
        target = logging.getLogger(name)
        if not any(isinstance(f, DatabaseErrorsByKind) for f in target.filters):
            target.addFilter(DatabaseErrorsByKind())
    app = procrastinate_app.current_app  # the App itself, not the module's proxy to it
    connector = WorkerConnector(
        sync_connector=app.connector,
        kwargs=connector_params(),
        # Short bookkeeping statements (fetch, finish, heartbeat, schedule): a few connections
        # serve any concurrency; LISTEN holds one more of its own.
        min_size=1,
        max_size=POOL_SIZE,
    )
    with app.replace_connector(connector), _schedule(app, enabled=not options.until_empty):
        return asyncio.run(_main(app, options))


async def _main(app, options: WorkerOptions) -> int:
    loop = asyncio.get_running_loop()
    # Sync jobs run in the loop's default executor: size it to the concurrency (each of its
    # threads keeps a Django connection), plus one for the loop's own blocking calls (DNS).
    loop.set_default_executor(
        ThreadPoolExecutor(max_workers=options.concurrency + 1, thread_name_prefix="job")
    )
    counter = JobCounter()
    stopper = Stopper(options, counter)
    stopper.install(loop)
    queues = ", ".join(options.queues) if options.queues else "all queues"
    async with app.open_async():
        while not stopper.requested:
            done_before = counter.done
            ids: list[int] = []

            def started(worker_id: int, ids=ids) -> None:
                ids.append(worker_id)
                logger.info(
                    "Worker %s started (pid %d): %s, concurrency %d%s",
                    worker_id,
                    os.getpid(),
                    queues,
                    options.concurrency,
                    ", until the queue is empty" if options.until_empty else "",
                )

            worker = _Worker(
                on_start=started,
                app=app,
                queues=options.queues,
                name=options.name,
                concurrency=options.concurrency,
                wait=not options.until_empty,
                install_signal_handlers=False,
                task_middleware=[counter],
                update_heartbeat_interval=options.heartbeat_seconds,
                stalled_worker_timeout=options.stalled_seconds,
            )
            stopper.worker = worker
            try:
                await worker.run()
            except Exception:
                logger.exception("The worker failed")
                return 1
            finally:
                why = (
                    f"on {stopper.requested}"
                    if stopper.requested
                    else ("with the queue empty" if options.until_empty else "on its own")
                )
                logger.info(
                    "Worker %s stopped %s (jobs run: %d)",
                    ids[0] if ids else "?",
                    why,
                    counter.done - done_before,
                )
            if stopper.requested:
                return 0
            if not options.until_empty:
                logger.error("The worker stopped without being asked (see the error above)")
                return 1
            # Jobs that the last jobs deferred: go round again while a pass ran some.
            if counter.done == done_before or not await _due(app, options.queues):
                return 0
        return 0  # a signal came before a worker ran


async def _due(app, queues: list[str] | None) -> bool:
    row = await app.connector.execute_query_one_async(
        query="SELECT EXISTS (SELECT 1 FROM procrastinate_jobs WHERE status = 'todo' "
        "AND (scheduled_at IS NULL OR scheduled_at <= now()) "
        "AND (%(queues)s::varchar[] IS NULL OR queue_name = ANY(%(queues)s))) AS due",
        queues=queues,
    )
    return row["due"]


@contextlib.contextmanager
def _schedule(app, *, enabled: bool) -> Iterator[None]:
    """Leave the periodic deferrer out of an `--until-empty` run: it drains, it does not tick."""
    if enabled:
        yield
        return
    registry = app.periodic_registry
    app.periodic_registry = periodic.PeriodicRegistry()
    try:
        yield
    finally:
        app.periodic_registry = registry
