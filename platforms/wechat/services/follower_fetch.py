"""Fetch a service account's followers ahead of the import that writes them.

WeChat gives a page of openids (`user/get`, up to 10 000), then their details 100 at a time
(`user/info/batchget`): about a hundred calls per 10 000 followers. Made in the importing
thread, each call would wait for the database write before it and each write for the calls
before it. Here one thread makes the calls and hands the answers over through a bounded queue
(AHEAD answers, a few thousand followers: memory stays bounded), so the importer writes a
chunk while the next ones are fetched.

One fetch thread, not a pool: the calls reach WeChat in the order of the list, so a failing call
stops the import at the same follower each time (what the importer saved is exactly what came
before it), and an app's call rate stays what one client makes. The thread never opens a
database connection: it gets the app's secret beforehand for its own client.
"""

import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass

from identity.models import App
from platforms.wechat.client import WeChatClient
from platforms.wechat.transport import app_secret

BATCH = 100  # openids per user/info/batchget, WeChat's maximum
AHEAD = 50  # batchget answers fetched ahead of the importer
PUT_WAIT_SECONDS = 0.1  # how often a blocked fetch thread checks that the importer still wants it
STOP_WAIT_SECONDS = 30.0  # at most one call (with its retries) is in flight when the importer stops


@dataclass(frozen=True)
class Batch:
    """The details of up to 100 followers of the page that `cursor` opens (`infos` may be
    empty: a page resumed at its end). `end` is the offset in the page just after them; the last
    batch of a page carries the cursor of the next one (`next_openid`, empty after the last)."""

    infos: list[dict]
    end: int
    total: int
    page_end: bool = False
    next_openid: str = ""


@dataclass(frozen=True)
class Failure:
    """A call failed: everything before it was handed over; nothing after it comes."""

    error: Exception


_DONE = object()


class FollowerFetcher:
    """Iterate the followers from a saved position as Batch items, in list order, ending with a
    Failure when a call fails. Use it as a context manager: leaving stops the thread."""

    def __init__(self, app: App, *, next_openid: str = "", page_offset: int = 0):
        self.app = app
        self.cursor, self.offset = next_openid, page_offset
        self.client = WeChatClient(known_secrets={app.pk: app_secret(app)})
        self.answers: queue.Queue = queue.Queue(maxsize=AHEAD)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._fetch, name="follower-fetch", daemon=True)

    def __enter__(self) -> "FollowerFetcher":
        self.thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stopping.set()
        self.thread.join(STOP_WAIT_SECONDS)
        self.client.close()

    def __iter__(self) -> Iterator[Batch | Failure]:
        while True:
            item = self.answers.get()
            if item is _DONE:
                return
            yield item
            if isinstance(item, Failure):
                return

    def _fetch(self) -> None:
        """Walk the pages from the saved cursor and offset, batch by batch, until the end."""
        try:
            cursor, offset = self.cursor, self.offset
            while not self.stopping.is_set():
                openids, next_openid, total = self.client.followers_page(self.app, cursor)
                if not openids:
                    break
                starts = range(offset, len(openids), BATCH)
                if not starts:  # resumed at the end of a page it had not closed
                    self._hand_over(Batch([], offset, total, True, next_openid))
                for start in starts:
                    wanted = openids[start : start + BATCH]
                    infos = self.client.user_info_batch(self.app, wanted)
                    end = start + len(wanted)
                    last = end >= len(openids)
                    batch = Batch(infos, end, total, last, next_openid if last else "")
                    if not self._hand_over(batch):
                        return
                if not next_openid:
                    break
                cursor, offset = next_openid, 0
        except Exception as exc:  # handed to the importer, which raises it
            self._hand_over(Failure(exc))
            return
        self._hand_over(_DONE)

    def _hand_over(self, item) -> bool:
        """Queue an item, waiting while the importer is behind; False once it has stopped."""
        while not self.stopping.is_set():
            try:
                self.answers.put(item, timeout=PUT_WAIT_SECONDS)
                return True
            except queue.Full:
                continue
        return False
