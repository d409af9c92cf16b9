"""A randomised event history for the report tests, and the stored facts their brute force reads.

`build_history(rng)` creates three apps (a mini-program, a service account, H5 pages), persons
with openids in some of them, and events in bursts over the last `days` days (so that funnels
and weeks have something to find), through the real ingest (the pipeline runs inline in tests,
so the daily activity rollups follow). Between batches it merges persons and undoes some
merges, erases one person, and imports service-account followers without events (a follower
list's snapshot). Times are relative to now: the suite means the same on any date.

The brute-force references in the tests read `stored_events()`: every stored event with its
current person (where merges and undos left it: identity's attribution, tested by identity's
suite), and compute each report from analytics.md's definitions in plain Python, independent of
the rollups and of the reports' SQL.
"""

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.utils import timezone

from identity.exceptions import MergeConflict
from identity.models import App, Identity, MergeRecord, Person
from identity.services.erase import erase_person
from identity.services.follow import FollowObservation, record_follow_changes
from identity.services.merge import merge_persons
from identity.services.undo import undo_merge
from profiles.models import Event
from profiles.services.ingest import ingest_events
from tests.factories import (
    SYSTEM,
    H5Factory,
    MiniProgramFactory,
    PersonFactory,
    ServiceAccountFactory,
)

MINI, SVC, H5 = "wxa1111111111111111", "wxs2222222222222222", "wxh3333333333333333"
# Funnel-ish types often, follow types in the service account only.
TYPES = ("register", "login", "view", "view", "pay", "login")
CHANNELS = ("", "", "qr_store", "share_card", "ad_moments")


@dataclass
class History:
    now: datetime
    apps: dict[str, App]
    persons: int
    merges: int = 0
    undos: int = 0
    erased: int = 0
    imported_followers: int = 0
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class StoredEvent:
    id: int
    person_id: int
    app_id: int | None
    type: str
    occurred_at: datetime
    channel: str


def _event(rng, app: App, openid: str, type_: str, at: datetime, number: int) -> dict:
    event = {
        "event_id": f"h-{number}",
        "appid": app.appid,
        "openid": openid,
        "type": type_,
        "occurred_at": at.replace(microsecond=0).isoformat(),
    }
    channel = rng.choice(CHANNELS)
    if channel:
        event["channel"] = channel
    if type_ == "pay":
        event["amount"] = str(Decimal(rng.randint(100, 9999)) / 100)
    return event


def _bursts(rng, now: datetime, days: int) -> list[tuple[datetime, float]]:
    """A person's bursts of activity: (start, span in hours), some spanning weeks."""
    bursts = []
    for _ in range(rng.randint(1, 3)):
        start = now - timedelta(days=rng.uniform(0.5, days), minutes=rng.randint(0, 600))
        span = rng.choice((2, 12, 48, 24 * 6, 24 * 20))
        bursts.append((start, span))
    return bursts


def build_history(
    rng: random.Random,
    *,
    persons: int = 36,
    days: int = 100,
    merges: int = 6,
    linked: bool = False,
    scans: bool = False,
) -> History:
    """Create the apps, the persons' events, merges and undos, an erasure, imported followers.

    `linked`: a person with openids in several apps is one person from the start (what a shared
    unionid does), so that mini-program visitors also follow the service account; without it
    each openid starts a person of its own, which only merges join. `scans`: the service
    account's events include QR scans, which identity takes as following (it moves the
    recorded follow time) and the settle rate does not."""
    follow_types = ("subscribe", "unsubscribe", "subscribe", "view")
    if scans:
        follow_types += ("qr_scan",)
    now = timezone.now()
    apps = {
        "mini": MiniProgramFactory(appid=MINI),
        "svc": ServiceAccountFactory(appid=SVC),
        "h5": H5Factory(appid=H5),
    }
    history = History(now=now, apps=apps, persons=persons)
    openids: dict[int, dict[str, str]] = {}
    batches: list[list[dict]] = []
    number = 0
    for person in range(persons):
        kinds = rng.choice((["mini"], ["mini", "svc"], ["svc"], ["h5"], ["mini", "h5"], ["mini"]))
        openids[person] = {kind: f"o{kind}{person}" for kind in kinds}
        if linked and len(kinds) > 1:
            PersonFactory(openids={apps[kind]: openids[person][kind] for kind in kinds})
        batch = []
        for start, span in _bursts(rng, now, days):
            for _ in range(rng.randint(1, 7)):
                kind = rng.choice(kinds)
                at = start + timedelta(hours=rng.uniform(0, span))
                if at >= now:
                    at = now - timedelta(minutes=rng.randint(1, 50))
                if kind == "svc" and person % 3 == 0:
                    type_ = "view"  # a visitor of the service account who never followed
                elif kind == "svc":
                    type_ = rng.choice(follow_types)
                else:
                    type_ = rng.choice(TYPES)
                number += 1
                batch.append(_event(rng, apps[kind], openids[person][kind], type_, at, number))
        batches.append(batch)
    # Events arrive in batches, merges and undos happen between them.
    rng.shuffle(batches)
    for index, batch in enumerate(batches):
        result = ingest_events(events=batch, actor=SYSTEM)
        assert not result.errors, result.errors
        if index % max(1, len(batches) // merges) == 0 and index:
            _merge_two(rng, history)
        if index == len(batches) * 2 // 3:
            _undo_some(rng, history)
    _import_followers(rng, history)
    _erase_one(rng, history)
    return history


def _merge_two(rng, history: History) -> None:
    live = list(Person.objects.live().order_by("pk").values_list("pk", flat=True))
    for _ in range(10):
        first, second = rng.sample(live, 2)
        try:
            merge_persons(
                first=Person.objects.get(pk=first),
                second=Person.objects.get(pk=second),
                reason="manual",
                actor=SYSTEM,
            )
        except MergeConflict:
            continue
        history.merges += 1
        return


def _undo_some(rng, history: History) -> None:
    for record in MergeRecord.objects.filter(undone_at__isnull=True).order_by("-pk")[:2]:
        try:
            undo_merge(record=record, actor=SYSTEM)
        except Exception as exc:
            history.notes.append(f"undo refused: {type(exc).__name__}")
            continue
        history.undos += 1


def _import_followers(rng, history: History) -> None:
    """Followers seen in a follower list only: a follow time without any event."""
    svc = history.apps["svc"]
    quiet = list(
        Identity.objects.filter(app=svc, followed__isnull=True).values_list("pk", flat=True)
    )
    chosen = quiet[: max(1, len(quiet) // 2)]
    observations = [
        FollowObservation(
            identity_pk=pk,
            followed=True,
            at=history.now - timedelta(days=rng.uniform(1, 90)),
            scene="",
            snapshot=True,
        )
        for pk in chosen
    ]
    record_follow_changes(observations=observations, actor=SYSTEM, source="import")
    history.imported_followers = len(chosen)


def _erase_one(rng, history: History) -> None:
    candidates = list(Person.objects.live().order_by("pk").values_list("pk", flat=True))
    erase_person(person=Person.objects.get(pk=rng.choice(candidates)), actor=SYSTEM)
    history.erased = 1


def stored_events() -> list[StoredEvent]:
    """Every stored event, on its current person, oldest first (ties by id)."""
    rows = Event.objects.order_by("occurred_at", "pk").values_list(
        "pk", "person_id", "app_id", "type_id", "occurred_at", "channel"
    )
    return [StoredEvent(*row) for row in rows]


def follow_records(app: App) -> list[tuple[int, datetime | None, datetime | None, bool | None]]:
    """(person, followed_at, unfollowed_at, followed) of each identity in an app."""
    return list(
        Identity.objects.filter(app=app).values_list(
            "person_id", "followed_at", "unfollowed_at", "followed"
        )
    )
