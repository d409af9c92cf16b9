"""The literals a condition may hold: what the stats columns can store and compare.

A number is judged by its JSON form before any conversion. A string such as "1e400000" is
refused by its shape and never becomes a Decimal or an int (PostgreSQL spends seconds comparing
such a numeric, and the column's precision cannot hold it); a float is finite or refused. Text
must be storable in PostgreSQL: no NUL, no unpaired surrogate (JSON's "\\ud800" lets one in).
"""

import math
import re
from decimal import Decimal

from profiles.conditions.grammar import AMOUNT_DIGITS, AMOUNT_PLACES, MAX_COUNT, MAX_DAYS

_WHOLE_DIGITS = AMOUNT_DIGITS - AMOUNT_PLACES
_AMOUNT = re.compile(rf"-?[0-9]{{1,{_WHOLE_DIGITS}}}(?:\.[0-9]{{1,{AMOUNT_PLACES}}})?")
_COUNT = re.compile(rf"[0-9]{{1,{len(str(MAX_COUNT))}}}")
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
UNSTORABLE = "must not contain NUL (\\u0000) or unpaired surrogates."


def is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_days(value) -> bool:
    return is_int(value) and 1 <= value <= MAX_DAYS


def is_event_count(value) -> bool:
    """min_count and max_count: a JSON integer the count of events can be compared with."""
    return is_int(value) and 0 <= value <= MAX_COUNT


def is_count(value) -> bool:
    """A count a stats column holds: a JSON integer or a string of digits, 0 to MAX_COUNT."""
    if isinstance(value, str):
        return bool(_COUNT.fullmatch(value)) and int(value) <= MAX_COUNT
    return is_event_count(value)


def is_amount(value) -> bool:
    """An amount numeric(16, 2) holds: at most 14 digits before the point and 2 after it."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return abs(value) < 10**_WHOLE_DIGITS
    if isinstance(value, float):
        # repr is the shortest text that reads back as the same float, e.g. "35.5" or "1e+20".
        return math.isfinite(value) and bool(_AMOUNT.fullmatch(repr(value)))
    if isinstance(value, str):
        return bool(_AMOUNT.fullmatch(value))
    return False


def as_amount(value) -> Decimal:
    """The Decimal of a value `is_amount` accepted."""
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value))


def is_finite_if_float(value) -> bool:
    """Tell whether a JSON value is anything but NaN or an infinity (`1e999999` reads as one)."""
    return not isinstance(value, float) or math.isfinite(value)


def is_storable(text: str) -> bool:
    """Tell whether PostgreSQL can store the text: no NUL, no unpaired surrogate."""
    return _UNSTORABLE.search(text) is None


def shown(value, limit: int = 40) -> str:
    """Quote a value for an error message, shortened (repr escapes NUL and surrogates)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def unfit_scalar(node: dict) -> str | None:
    """Find a key or plain value of the node that no check may let through: text PostgreSQL
    cannot store, or a number that is not finite (NaN, Infinity, or `1e999999` as read)."""
    for key, value in node.items():
        if not is_storable(key):
            return f"Keys {UNSTORABLE}"
        if isinstance(value, str) and not is_storable(value):
            return f"{key} {UNSTORABLE}"
        if not is_finite_if_float(value):
            return f"{key} must be a finite number."
    return None
