"""The person cache under concurrency: readers in threads never see a change undone once the
change's call returned.

One writer (the test's thread) makes numbered changes of one person; after change k returned it
publishes k. Reader threads look the person up in a loop, each by another key (one as a key
restricted to an app), through the selectors the API views call (each thread with its own
database connection and its own cache client). A read that started after the reader saw k must
reflect change k or a later one. After each change the writer waits (bounded) until every
reader read twice since it: each change is checked by every key, and the second read is served
by the cache, so that hits do happen.

The last test turns the invalidation off and checks that the same checker then reports stale
reads: the checker can fail. Runs on the local memory cache and on Redis (REDIS_URL).
"""

import threading
import time
from dataclasses import dataclass, field

import pytest
from django.db import connection
from prometheus_client import REGISTRY

from identity import person_cache, selectors
from identity.services.phone import bind_phone
from profiles.services.ingest import ingest_events
from profiles.services.tags import assign_tags, remove_tag
from tests.clock import iso_ago
from tests.factories import PersonFactory, TagFactory

# serialized_rollback: the flush after a transactional test must not drop migration data
# (the built-in event types) that later tests rely on.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

CHANGES = 30
WAIT_SECONDS = 20  # the bound of every wait (a reader's two reads, a thread's end)
PHONE = "13812345678"
METRIC = "uid_person_cache_requests_total"


def requests(result: str) -> float:
    return REGISTRY.get_sample_value(METRIC, {"result": result}) or 0.0


def race_phone(step: int) -> str:
    return f"1390000{step:04d}"


# -- what each kind of change writes, and how a read tells which change it reflects ------------


@dataclass
class Kind:
    """`change(step)` makes change `step`; `is_stale(step, person)` tells whether a person read
    after change `step` returned misses it (or shows what a later change undid)."""

    change: object
    is_stale: object
    reads_by_phone: bool = True


def events_kind(person, apps, actor) -> Kind:
    """Each change ingests one event: the event count is the change's number."""

    def change(step):
        event = {
            "event_id": f"race-{step}",
            "appid": apps[0].appid,
            "openid": "oRace",
            "type": "view",
            "occurred_at": iso_ago(minutes=step),
        }
        assert ingest_events(events=[event], actor=actor).accepted == 1

    def is_stale(step, read):
        stats = read.section_stats["stats"]
        return (stats["event_count"] if stats else 0) < step

    return Kind(change, is_stale)


def tags_kind(person, apps, actor) -> Kind:
    """Change k gives the person tag step-k and takes step-(k-1) away: once it returned, the
    person holds step-k and nothing older."""
    for step in range(1, CHANGES + 1):
        TagFactory(key=f"step-{step}")

    def change(step):
        assign_tags(person=person, keys=[f"step-{step}"], actor=actor)
        if step > 1:
            assert remove_tag(person=person, key=f"step-{step - 1}", actor=actor)

    def is_stale(step, read):
        steps = {
            int(tag["key"].removeprefix("step-"))
            for tag in read.section_tags
            if tag["key"].startswith("step-")
        }
        return step > 0 and (not steps or min(steps) < step)

    return Kind(change, is_stale)


def phone_kind(person, apps, actor) -> Kind:
    """Change k binds a new number ending in k (the person's former number is freed)."""

    def change(step):
        bind_phone(person=person, phone=race_phone(step), actor=actor)

    def is_stale(step, read):
        number = read.phone_e164
        return step > 0 and (number is None or int(number[-4:]) < step)

    return Kind(change, is_stale, reads_by_phone=False)


KINDS = {"events": events_kind, "tags": tags_kind, "phone": phone_kind}


# -- the race -------------------------------------------------------------------------------------


@dataclass
class Race:
    kind: Kind
    step: int = 0  # the last change whose call returned
    done: threading.Event = field(default_factory=threading.Event)
    lock: threading.Condition = field(default_factory=threading.Condition)
    stale: list = field(default_factory=list)
    errors: list = field(default_factory=list)
    reads: int = 0


class Reader(threading.Thread):
    def __init__(self, race: Race, name: str, read):
        super().__init__(name=name, daemon=True)
        self.race, self.read = race, read
        self.seen, self.reads_since = -1, 0  # reads started after the reader saw `seen`

    def run(self):
        race = self.race
        try:
            while not race.done.is_set():
                seen = race.step  # read before the lookup starts
                person = self.read()
                assert person is not None, f"{self.name} found no one after change {seen}"
                stale = race.kind.is_stale(seen, person)
                with race.lock:
                    if stale:
                        race.stale.append((self.name, seen))
                    if seen == self.seen:
                        self.reads_since += 1
                    else:
                        self.seen, self.reads_since = seen, 1
                    race.reads += 1
                    race.lock.notify_all()
                time.sleep(0.0005)  # lets the writer's thread run between reads
        except BaseException as exc:  # reported by the test
            with race.lock:
                race.errors.append(exc)
                race.lock.notify_all()
        finally:
            connection.close()  # each thread's own connection


def run_race(kind_name: str, apps, actor, *, changes: int = CHANGES) -> tuple[Race, dict]:
    """Race the readers against `changes` changes; return the race and the cache's requests."""
    mini, service = apps
    person = PersonFactory(
        openids={mini: "oRace", service: "oRaceSvc"}, unionid="uRace", phone=PHONE
    )
    race = Race(KINDS[kind_name](person, apps, actor))
    reads = {
        "openid": lambda: selectors.find_by_openid(mini, "oRace"),
        "unionid": lambda: selectors.find_by_unionid("uRace"),
        "public_id": lambda: selectors.get_person(person.public_id),
        "phone": lambda: selectors.find_by_phone("+86" + PHONE),
        # A key restricted to the mini-program: its answer is derived from the same entries.
        "restricted": lambda: selectors.find_by_unionid("uRace", allowed_app_ids={mini.pk}),
    }
    if not race.kind.reads_by_phone:
        reads["phone"] = lambda: selectors.find_by_openid(service, "oRaceSvc")  # its own key
    for read in reads.values():
        read()  # every key cached before the first change
    before = {result: requests(result) for result in ("hit", "miss", "error", "bypass")}
    readers = [Reader(race, name, read) for name, read in reads.items()]
    for reader in readers:
        reader.start()
    try:
        for step in range(1, changes + 1):
            race.kind.change(step)
            race.step = step  # the change's call returned
            with race.lock:
                checked = race.lock.wait_for(
                    lambda step=step: (
                        race.errors or all(r.seen == step and r.reads_since >= 2 for r in readers)
                    ),
                    timeout=WAIT_SECONDS,
                )
            assert not race.errors, race.errors
            assert checked, f"the readers did not read after change {step}"
    finally:
        race.done.set()
        for reader in readers:
            reader.join(timeout=WAIT_SECONDS)
    assert not any(reader.is_alive() for reader in readers)
    assert not race.errors, race.errors
    counts = {result: requests(result) - before[result] for result in before}
    return race, counts


@pytest.fixture
def apps(miniprogram, service_account):
    return miniprogram, service_account


@pytest.mark.parametrize("kind", list(KINDS))
def test_no_read_after_a_change_returned_misses_it(kind, apps, actor):
    race, counts = run_race(kind, apps, actor)

    assert race.stale == [], f"{len(race.stale)} stale reads (reader, change): {race.stale[:10]}"
    assert race.reads >= 5 * 2 * CHANGES
    # The cache served (each reader's second read after a change at least could be a hit) and
    # every change outdated entries (each change needs new reads of every key).
    assert counts["hit"] > 0
    assert counts["miss"] >= CHANGES
    assert counts["error"] == counts["bypass"] == 0


def test_the_checker_finds_stale_reads_when_changes_outdate_nothing(apps, actor, monkeypatch):
    monkeypatch.setattr(person_cache, "changed", lambda person_ids, *, removes_keys=False: None)

    race, counts = run_race("events", apps, actor, changes=5)

    readers = {name for name, _ in race.stale}
    assert readers == {"openid", "unionid", "public_id", "phone", "restricted"}  # all stale
    assert {step for _, step in race.stale} == {1, 2, 3, 4, 5}
    assert counts["miss"] == 0  # nothing was ever outdated: the warm entries were served


class _OutdatingAtOnce:
    """`django.db.transaction` for person_cache, but running on_commit callbacks at once: the
    invalidation then happens before the change is committed."""

    def __init__(self, transaction):
        self._transaction = transaction

    def __getattr__(self, name):
        return getattr(self._transaction, name)

    def on_commit(self, callback, *args, **kwargs):
        callback()


def test_the_checker_finds_stale_reads_when_entries_are_outdated_before_the_commit(
    apps, actor, monkeypatch
):
    from django.db import transaction

    monkeypatch.setattr(person_cache, "transaction", _OutdatingAtOnce(transaction))

    race, _ = run_race("tags", apps, actor, changes=10)

    # A reader that read the uncommitted (old) rows under the new generation filled an entry
    # that the commit then left in place.
    assert race.stale
