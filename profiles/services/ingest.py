"""Event ingestion (`POST /api/v1/events`): idempotent, partial success, constant queries."""

from dataclasses import dataclass, field

from config.metrics import EVENTS_ACCEPTED
from identity.exceptions import InvalidInput
from identity.models import Actor, App
from identity.services.retry import run_atomic_with_retries
from identity.validators import IDENTIFIER_RE, MAX_BATCH
from profiles.models import EventType
from profiles.services.event_parsing import ItemError, ParsedEvent, parse_event
from profiles.services.event_store import insert_events
from profiles.services.event_subjects import attribute
from profiles.services.partitions import ensure_months
from profiles.services.pipeline import record_pending


@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    errors: list[dict] = field(default_factory=list)
    person_ids: set[int] = field(default_factory=set)


def ingest_events(
    *,
    events: object,
    actor: Actor,
    allowed_app_ids: set[int] | None = None,
    source: str = "events",
) -> IngestResult:
    """Store a batch of events for their persons; the worker brings their stats up to date.

    Invalid items are reported by index and skipped; the valid ones are written in one
    transaction (events, new persons and the pending-events row with its job, or nothing).
    Stats, daily activity, follow state and rule tags follow in the background
    (services/pipeline.py), within seconds when the worker keeps up. A replayed
    `event_id` of the same app is counted as a duplicate and changes nothing; another app's
    identical id is its own event (the namespace is per app). `source` names the feed (the
    events API, WeChat pushes) in the audit entry of the follow changes.
    """
    if not isinstance(events, list) or not events:
        raise InvalidInput({"events": ["A non-empty list of events is required."]})
    if len(events) > MAX_BATCH:
        raise InvalidInput({"events": [f"At most {MAX_BATCH} events per request."]})

    appids = {
        e["appid"]
        for e in events
        if isinstance(e, dict)
        and isinstance(e.get("appid"), str)
        and IDENTIFIER_RE.fullmatch(e["appid"])  # the form of every registered appid
    }
    apps = {app.appid: app for app in App.objects.filter(appid__in=appids)}
    types = set(EventType.objects.filter(is_active=True).values_list("key", flat=True))
    result = IngestResult()
    parsed: list[ParsedEvent] = []
    seen: set[tuple[int | None, str]] = set()
    for index, raw in enumerate(events):
        try:
            event = parse_event(index, raw, apps=apps, types=types, allowed_app_ids=allowed_app_ids)
        except ItemError as error:
            result.errors.append(error.as_dict(index))
            continue
        key = (event.app.pk if event.app else None, event.event_id)
        if key in seen:
            result.duplicates += 1
            continue
        seen.add(key)
        parsed.append(event)
    if parsed:
        # A month seen for the first time gets its partition in a short transaction of its
        # own, not inside the ingest's (services/partitions.py says why).
        ensure_months(event.occurred_at for event in parsed)
        run_atomic_with_retries(lambda: _store(parsed, result, actor, allowed_app_ids, source))
        EVENTS_ACCEPTED.labels(source).inc(result.accepted)
    result.errors.sort(key=lambda error: error["index"])
    return result


def _store(
    events: list[ParsedEvent], result: IngestResult, actor: Actor, allowed_app_ids, source: str
) -> None:
    subjects, errors = attribute(events, allowed_app_ids=allowed_app_ids, actor=actor)
    writable = [event for event in events if event.index in subjects]
    stored = insert_events(writable, subjects)
    record_pending(stored, actor=actor, source=source)
    # Assigned last: a retried transaction starts again from a clean result.
    result.errors.extend(errors)
    result.accepted = len(stored)
    result.duplicates += len(writable) - len(stored)
    result.person_ids = {row.person_id for row in stored}
