"""How a worker stops: gracefully on the first signal, at once on the second or on a timeout.

A graceful stop takes no new job and waits for the running ones. Exiting at once is safe too:
each job's writes are its transaction, which PostgreSQL rolls back with the connection, and
the job itself is put back in the queue by `jobs.retry_stalled_jobs` once this worker's
heartbeat is stale.
"""

import asyncio
import logging
import os
import signal
import threading

from django.db import close_old_connections

logger = logging.getLogger("jobs.worker")


class JobCounter:
    """Wrap every job (a sync task middleware, run in the job's thread).

    Close the thread's stale Django connections before and after the job, as Django does around
    a request, and count the jobs running and run, for the stop lines.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self.done = self.running = 0

    def __call__(self, call_next, context, worker):
        with self._lock:
            self.running += 1
        close_old_connections()
        try:
            return call_next()
        finally:
            close_old_connections()
            with self._lock:
                self.running -= 1
                self.done += 1


class Stopper:
    """First signal: a graceful stop. Second signal or the stop timeout: exit at once."""

    def __init__(self, options, counter: JobCounter):
        self.options, self.counter = options, counter
        self.requested: str | None = None
        self.worker = None  # the running procrastinate worker

    def install(self, loop: asyncio.AbstractEventLoop) -> None:
        """Handle SIGTERM, and SIGINT unless it came ignored (a background process of a shell:
        `make run` stops the worker with one SIGTERM, not with the terminal's Ctrl-C too)."""
        signals = [signal.SIGTERM]
        if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
            signals.append(signal.SIGINT)
        for sig in signals:
            loop.add_signal_handler(sig, self.on_signal, sig)

    def on_signal(self, sig: signal.Signals) -> None:
        name = signal.Signals(sig).name
        if self.requested:
            self.exit_now(f"second signal ({name})")
            return
        self.requested = name
        logger.info(
            "Stop requested (%s): finishing %d running jobs, taking no new ones; "
            "a second signal stops at once",
            name,
            self.counter.running,
        )
        if self.worker is not None:
            self.worker.stop()
        if self.options.stop_timeout:
            asyncio.get_running_loop().call_later(
                self.options.stop_timeout, self.exit_now, "stop timeout"
            )

    def exit_now(self, why: str) -> None:
        logger.warning(
            "Stopping at once (%s): %d running jobs roll back and are retried once this "
            "worker's heartbeat is stale",
            why,
            self.counter.running,
        )
        logging.shutdown()
        os._exit(1)
