"""Write the follower import's chunks on two database connections at once, committed in order.

One connection writes a chunk and waits for PostgreSQL after each statement; with two, one
chunk's statements run while the other's are prepared or committed (measured at 100 000
followers on a two-core machine: about 5 300 followers/s with one connection, 9 300 with two,
no better with three). Order is kept where
it matters: a chunk saves the run's progress and commits only after the chunk before it
committed, so what is saved is always a prefix of the list, as with one writer, and a kill
redoes at most the chunks in flight (harmless: resolving a known follower changes nothing).

Two chunks in flight never share an openid or a unionid (`submit` waits instead), so their
transactions never wait for each other's rows, which would deadlock with the commit order.
"""

import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass

from django.db import connections, transaction

WRITERS = 2
ORDER_WAIT_SECONDS = 600.0  # a chunk waiting this long for the one before it gives up


@dataclass
class Chunk:
    """One transaction's work: `write` does it (without the run's progress), `save` then saves
    that progress; `openids` and `unionids` are what it may insert."""

    write: Callable[[], object]
    save: Callable[[object], None]
    openids: set[str]
    unionids: set[str]


class _Turn:
    """The commit order: chunk n may commit once chunk n - 1 did. After a failure of chunk f,
    the chunks before it still commit; f and those after it do not."""

    def __init__(self):
        self.done = threading.Condition()
        self.committed = 0
        self.failed_at: int | None = None
        self.failed: BaseException | None = None  # the failure of chunk `failed_at`

    def wait_for(self, number: int) -> None:
        with self.done:
            ready = self.done.wait_for(
                lambda: self.committed >= number or self._stops(number), ORDER_WAIT_SECONDS
            )
            if self._stops(number):
                raise RuntimeError("an earlier chunk of the import failed") from self.failed
            if not ready:
                raise TimeoutError("the earlier chunk of the import did not commit")

    def commit(self, number: int) -> None:
        with self.done:
            self.committed = number
            self.done.notify_all()

    def fail(self, number: int, error: BaseException) -> None:
        with self.done:
            if self.failed_at is None or number < self.failed_at:
                self.failed_at, self.failed = number, error
            self.done.notify_all()

    def _stops(self, number: int) -> bool:
        return self.failed_at is not None and self.failed_at <= number


class ChunkWriters:
    """Write chunks on WRITERS threads, each with its own connection; a context manager.

    `finish()` waits for every chunk and raises the first failure. Inside a caller's
    transaction (the tests' included) the chunks are written in the caller's thread instead:
    other connections could not see its uncommitted rows, and it decides when they commit.
    """

    def __init__(self, *, on_commit: Callable[[], None] | None = None, writers: int = WRITERS):
        self.inline = writers < 2 or connections["default"].in_atomic_block
        self.on_commit = on_commit
        self.tasks: queue.Queue = queue.Queue()
        self.turn = _Turn()
        self.submitted = 0
        self.in_flight: dict[int, Chunk] = {}
        self.changed = threading.Condition()
        self.threads = [
            threading.Thread(target=self._work, name=f"follower-write-{n}", daemon=True)
            for n in range(0 if self.inline else writers)
        ]
        self.capacity = max(len(self.threads), 1)

    def __enter__(self) -> "ChunkWriters":
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        if exc_info[0] is not None:  # the chunks handed over still commit, if they can
            self.turn.fail(self.submitted + 1, exc_info[1])
        for _ in self.threads:
            self.tasks.put(None)
        for thread in self.threads:
            thread.join()

    def submit(self, chunk: Chunk) -> None:
        """Hand a chunk over once a writer is free and no chunk in flight shares its ids."""
        if self.turn.failed:
            raise self.turn.failed
        self.submitted += 1
        if self.inline:
            self._write(self.submitted, chunk)
            return
        with self.changed:
            self.changed.wait_for(
                lambda: (
                    self.turn.failed
                    or (len(self.in_flight) < self.capacity and not self._overlaps(chunk))
                )
            )
            self.in_flight[self.submitted] = chunk
        self.tasks.put((self.submitted, chunk))

    def finish(self) -> None:
        """Wait until every chunk is written; raise the first failure."""
        with self.changed:
            self.changed.wait_for(lambda: not self.in_flight)
        if self.turn.failed:
            raise self.turn.failed

    def _overlaps(self, chunk: Chunk) -> bool:
        return any(
            chunk.openids & other.openids or chunk.unionids & other.unionids
            for other in self.in_flight.values()
        )

    def _work(self) -> None:
        try:
            while (task := self.tasks.get()) is not None:
                number, chunk = task
                try:
                    self._write(number, chunk)
                except BaseException as exc:  # kept for finish(), which raises it
                    self.turn.fail(number, exc)
                finally:
                    with self.changed:
                        del self.in_flight[number]
                        self.changed.notify_all()
        finally:
            connections.close_all()  # this thread's connections only

    def _write(self, number: int, chunk: Chunk) -> None:
        """Write the chunk and, in its turn, save the progress and commit."""
        with transaction.atomic():
            result = chunk.write()
            self.turn.wait_for(number - 1)
            chunk.save(result)
        if self.on_commit:
            self.on_commit()  # in commit order: before the next chunk may commit
        self.turn.commit(number)
