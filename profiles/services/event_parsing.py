"""Validation of one reported event; every problem is named by field, nothing is written."""

import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from identity.exceptions import InvalidInput
from identity.models import App
from identity.validators import clean_identifier
from profiles.services.event_contract import (
    CENT,
    CHANNEL_MAX_LENGTH,
    EVENT_ID_MAX_LENGTH,
    EVENT_ID_RE,
    FIELDS,
    FUTURE_TOLERANCE,
    MAX_AMOUNT,
    MAX_OFFSET,
    MAX_OFFSET_TEXT,
    MAX_PROPERTIES_BYTES,
    OFFSET_RE,
    OLDEST,
    PAY,
    PERSON_ID_RE,
)


@dataclass
class ParsedEvent:
    index: int
    event_id: str
    type: str
    occurred_at: datetime
    app: App | None
    openid: str | None
    person_public_id: str | None
    amount: Decimal | None
    channel: str
    properties: dict


class ItemError(Exception):
    """One event's problem: an API error code and the bad fields."""

    def __init__(self, code: str, message: str, details: dict):
        self.code, self.message, self.details = code, message, details
        super().__init__(message)

    def as_dict(self, index: int) -> dict:
        return {
            "index": index,
            "error": {"code": self.code, "message": self.message, "details": self.details},
        }


def parse_event(
    index: int,
    raw: object,
    *,
    apps: dict[str, App],
    types: set[str],
    allowed_app_ids: set[int] | None,
) -> ParsedEvent:
    """Check one event against the contract of DESIGN.md; raise ItemError naming the fields."""
    if not isinstance(raw, dict):
        raise ItemError("invalid", "Each event must be an object.", {"event": ["Not an object."]})
    errors: dict[str, list[str]] = {}
    unknown = sorted(set(raw) - set(FIELDS))
    if unknown:
        errors.update({name: ["Unknown field."] for name in unknown})

    event_id = raw.get("event_id")
    if not isinstance(event_id, str) or not EVENT_ID_RE.fullmatch(event_id):
        errors["event_id"] = [
            f"Required: 1 to {EVENT_ID_MAX_LENGTH} characters of A-Z, a-z, 0-9, _ . : -."
        ]

    type_key = raw.get("type")
    if not isinstance(type_key, str) or type_key not in types:
        errors["type"] = [f"Unknown event type {type_key!r}." if type_key else "Required."]

    occurred_at = _parse_time(raw.get("occurred_at"), errors)
    app, openid, person_id = _parse_subject(raw, apps, errors)
    if allowed_app_ids is not None and app is None and "appid" not in errors:
        # Without an app the event would sit in the namespace of ids shared by every key, and
        # outside the stats and events the key itself is shown (its apps' only).
        errors["appid"] = ["Required from a key restricted to apps: name one of them."]
    amount = _parse_amount(raw, type_key, errors)

    channel = raw.get("channel", "")
    if channel is None:
        channel = ""
    if not isinstance(channel, str) or len(channel) > CHANNEL_MAX_LENGTH or not _storable(channel):
        errors["channel"] = [f"Must be a string of at most {CHANNEL_MAX_LENGTH} characters."]

    properties = raw.get("properties", {})
    if properties is None:
        properties = {}
    if not isinstance(properties, dict):
        errors["properties"] = ["Must be an object."]
    elif not _storable(properties):
        errors["properties"] = ["Must not contain NUL (\\u0000) or unpaired surrogates."]
    elif len(json.dumps(properties, ensure_ascii=False).encode()) > MAX_PROPERTIES_BYTES:
        errors["properties"] = [f"At most {MAX_PROPERTIES_BYTES} bytes of JSON."]

    if errors:
        raise ItemError("invalid", "The event is invalid.", errors)
    if app is not None and allowed_app_ids is not None and app.pk not in allowed_app_ids:
        raise ItemError(
            "app_forbidden", "This API key may not act on this app.", {"appid": [app.appid]}
        )
    return ParsedEvent(
        index=index,
        event_id=event_id,
        type=type_key,
        occurred_at=occurred_at,
        app=app,
        openid=openid,
        person_public_id=person_id,
        amount=amount,
        channel=channel.strip(),
        properties=properties,
    )


def _parse_time(value, errors) -> datetime | None:
    try:
        parsed = parse_datetime(value) if isinstance(value, str) else None
    except ValueError:  # well formed but no such time, e.g. 12:99
        parsed = None
    if parsed is None:
        errors["occurred_at"] = ["Required: an ISO 8601 date-time with a time zone."]
        return None
    if timezone.is_naive(parsed):
        errors["occurred_at"] = ["Include a time zone offset (e.g. +08:00 or Z)."]
        return None
    if not OFFSET_RE.search(value) or abs(parsed.utcoffset()) > MAX_OFFSET:
        errors["occurred_at"] = [
            f"Give the offset as Z or +hh:mm, between -{MAX_OFFSET_TEXT} and +{MAX_OFFSET_TEXT}."
        ]
        return None
    if not OLDEST <= parsed <= timezone.now() + FUTURE_TOLERANCE:
        errors["occurred_at"] = [f"Must lie between {OLDEST:%Y-%m-%d} and tomorrow."]
        return None
    return parsed


def _parse_subject(raw, apps, errors):
    """Return (app, openid, person_id): an event names its person by openid or by person_id."""
    appid, openid, person_id = raw.get("appid"), raw.get("openid"), raw.get("person_id")
    app = None
    if appid is not None:
        app = apps.get(appid) if isinstance(appid, str) else None
        if app is None:
            errors["appid"] = [f"Unknown appid {appid!r}."]
    if (openid is None) == (person_id is None):
        errors["openid"] = ["Give either appid and openid, or person_id."]
        return app, None, None
    if openid is not None:
        if appid is None:
            errors["appid"] = ["Required with openid."]
        try:
            openid = clean_identifier(openid, field="openid")
        except InvalidInput as exc:
            errors.update(exc.details)
        return app, openid, None
    if not isinstance(person_id, str) or not PERSON_ID_RE.fullmatch(person_id):
        errors["person_id"] = ["Must be a person id."]
    return app, None, person_id


def _parse_amount(raw, type_key, errors) -> Decimal | None:
    value = raw.get("amount")
    if value is None:
        if type_key == PAY:
            errors["amount"] = ["Required for pay events."]
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        errors["amount"] = ['Must be a decimal number such as "12.50".']
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        errors["amount"] = ['Must be a decimal number such as "12.50".']
        return None
    if not amount.is_finite() or amount < 0 or amount > MAX_AMOUNT:
        errors["amount"] = [f"Must be between 0 and {MAX_AMOUNT}."]
        return None
    cents = amount.quantize(CENT)
    if cents != amount:
        errors["amount"] = ["At most two decimal places."]
        return None
    return cents


def _storable(value) -> bool:
    """Tell whether PostgreSQL can store the text in it: no NUL, no unpaired surrogate (which
    JSON's \\ud800 escapes let through and UTF-8 cannot encode)."""
    if isinstance(value, str):
        if "\x00" in value:
            return False
        try:
            value.encode()
        except UnicodeEncodeError:
            return False
        return True
    if isinstance(value, dict):
        return all(_storable(key) and _storable(item) for key, item in value.items())
    if isinstance(value, list):
        return all(_storable(item) for item in value)
    return True
