"""Lag from an accepted event to its effect on stats and rule tags, measured under load.

Every ~0.5 s a probe posts, for an openid never seen before, two `pay` events of 1.00: the
person is created by the ingest itself, and the pipeline then gives it `pay_count = 2` in
profiles_personstats and the preset rule tag `repeat_buyer` (2+ payments, migration 0004).
Nothing else in the run pays for these persons, so each effect is unambiguous. A poller thread
looks up all outstanding probes in one query every 50 ms (the resolution of the figures) and
records, per probe, the time from the response received (accepted) to the first poll that sees
each effect. Probes that never show an effect before `wait` gives up are counted as missing.
"""

import threading
import time
import uuid
from datetime import UTC, datetime

import httpx
import psycopg

from bench.ingest_load import percentiles

INTERVAL = 0.5
POLL = 0.05
TAG = "repeat_buyer"

POLL_QUERY = """
SELECT i.openid, coalesce(s.pay_count >= 2, false),
       EXISTS (SELECT 1 FROM profiles_tagassignment ta
               WHERE ta.person_id = i.person_id AND ta.tag_id = %s)
FROM identity_identity i
LEFT JOIN profiles_personstats s ON s.person_id = i.person_id
WHERE i.app_id = %s AND i.openid = ANY(%s)
"""


class LagProbe:
    def __init__(self, *, base_url: str, key: str, dsn: str, appid: str, app_pk: int):
        self.client = httpx.Client(
            base_url=base_url, headers={"Authorization": f"Bearer {key}"}, timeout=60
        )
        self.dsn, self.appid, self.app_pk = dsn, appid, app_pk
        self.run_id = uuid.uuid4().hex[:10]
        self.accepted: dict[str, float] = {}  # openid -> monotonic time of the response
        self.stats_seen: dict[str, float] = {}
        self.tag_seen: dict[str, float] = {}
        self.failed = 0
        self.lock = threading.Lock()
        self.sending = threading.Event()
        self.polling = threading.Event()
        self.threads: list[threading.Thread] = []

    def start(self) -> "LagProbe":
        with psycopg.connect(self.dsn) as conn:
            row = conn.execute("SELECT id FROM profiles_tag WHERE key = %s", [TAG]).fetchone()
        if row is None:
            raise RuntimeError(f"the preset tag {TAG} is missing")
        self.tag_pk = row[0]
        self.sending.set()
        self.polling.set()
        self.threads = [
            threading.Thread(target=self._send, daemon=True),
            threading.Thread(target=self._poll, daemon=True),
        ]
        for thread in self.threads:
            thread.start()
        return self

    def stop_sending(self) -> None:
        self.sending.clear()
        self.threads[0].join()

    def wait(self, timeout: float) -> None:
        """Wait until every accepted probe showed both effects, or `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.missing():
            time.sleep(POLL)
        self.polling.clear()
        self.threads[1].join()
        self.client.close()

    def missing(self) -> int:
        with self.lock:
            return len(self._waiting())

    def _waiting(self) -> list[str]:
        """Accepted probes still missing an effect (call with the lock held)."""
        return [o for o in self.accepted if o not in self.stats_seen or o not in self.tag_seen]

    def results(self) -> dict:
        with self.lock:
            stats = [
                (self.stats_seen[o] - t) * 1000
                for o, t in self.accepted.items()
                if o in self.stats_seen
            ]
            tags = [
                (self.tag_seen[o] - t) * 1000
                for o, t in self.accepted.items()
                if o in self.tag_seen
            ]
            sent = len(self.accepted)
        return {
            "probes": sent,
            "failed_posts": self.failed,
            "poll_resolution_ms": POLL * 1000,
            "stats_ms": percentiles(stats),
            "stats_missing": sent - len(stats),
            "tags_ms": percentiles(tags),
            "tags_missing": sent - len(tags),
        }

    def _send(self) -> None:
        number = 0
        while self.sending.is_set():
            started = time.monotonic()
            openid = f"obprobe{self.run_id}{number:08d}"
            at = datetime.now(UTC).isoformat()
            events = [
                {
                    "event_id": f"bench-probe-{self.run_id}-{number}-{n}",
                    "appid": self.appid,
                    "openid": openid,
                    "type": "pay",
                    "amount": "1.00",
                    "occurred_at": at,
                }
                for n in range(2)
            ]
            try:
                response = self.client.post("/api/v1/events", json={"events": events})
                response.raise_for_status()
                ok = response.json()["accepted"] == 2
            except httpx.HTTPError:
                ok = False
            accepted_at = time.monotonic()
            with self.lock:
                if ok:
                    self.accepted[openid] = accepted_at
                else:
                    self.failed += 1
            number += 1
            time.sleep(max(0.0, INTERVAL - (time.monotonic() - started)))

    def _poll(self) -> None:
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            while self.polling.is_set():
                with self.lock:
                    waiting = self._waiting()
                if waiting:
                    rows = conn.execute(POLL_QUERY, [self.tag_pk, self.app_pk, waiting]).fetchall()
                    now = time.monotonic()
                    with self.lock:
                        for openid, has_stats, has_tag in rows:
                            if has_stats:
                                self.stats_seen.setdefault(openid, now)
                            if has_tag:
                                self.tag_seen.setdefault(openid, now)
                time.sleep(POLL)
