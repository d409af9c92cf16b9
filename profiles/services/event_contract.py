"""The contract of one event (DESIGN.md, event `E`): its fields, and limits that are those of
the columns storing them.

The parser (event_parsing.py) checks them and the API documents them (`EventIn` is built from
these names and limits), so that changing one here changes the check, the storage and the docs.
"""

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from identity.models import Person
from profiles.models import Event

FIELDS = (
    "event_id",
    "appid",
    "openid",
    "person_id",
    "type",
    "occurred_at",
    "amount",
    "channel",
    "properties",
)
EVENT_ID_MAX_LENGTH = Event._meta.get_field("event_id").max_length
PERSON_ID_MAX_LENGTH = Person._meta.get_field("public_id").max_length
CHANNEL_MAX_LENGTH = Event._meta.get_field("channel").max_length
AMOUNT_MAX_DIGITS = Event._meta.get_field("amount").max_digits
AMOUNT_DECIMAL_PLACES = Event._meta.get_field("amount").decimal_places
CENT = Decimal(1).scaleb(-AMOUNT_DECIMAL_PLACES)
MAX_AMOUNT = Decimal(10) ** (AMOUNT_MAX_DIGITS - AMOUNT_DECIMAL_PLACES) - CENT
MAX_PROPERTIES_BYTES = 8 * 1024
EVENT_ID_RE = re.compile(rf"[A-Za-z0-9_.:-]{{1,{EVENT_ID_MAX_LENGTH}}}")
PERSON_ID_RE = re.compile(rf"[A-Za-z0-9_-]{{1,{PERSON_ID_MAX_LENGTH}}}")
OLDEST = datetime(2000, 1, 1, tzinfo=UTC)
FUTURE_TOLERANCE = timedelta(days=1)
# PostgreSQL refuses offsets past 15:59 from UTC (Python takes up to 23:59), and ISO 8601 writes
# an offset as hours and minutes: the text must end in Z or one (+08:00, +0800, +08).
MAX_OFFSET = timedelta(hours=15, minutes=59)
MAX_OFFSET_TEXT = f"{MAX_OFFSET.seconds // 3600}:{MAX_OFFSET.seconds // 60 % 60:02}"
OFFSET_RE = re.compile(r"(?:Z|[+-]\d\d(?::?[0-5]\d)?)\Z", re.ASCII)
PAY = "pay"
