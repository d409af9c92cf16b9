"""Identifier validation: blocked placeholder values never link anything (invariant 5)."""

import re

from identity.exceptions import InvalidInput

# The most items one request carries, for every batch endpoint (lookups, event ingest): large
# enough to amortise a request, small enough that one statement per step stays fast.
MAX_BATCH = 1000

IDENTIFIER_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
BLOCKED_VALUES = frozenset(
    {"", "null", "undefined", "none", "nan", "0", "anonymous", "[object object]", "nil"}
)


def is_blocked(value: str) -> bool:
    """Tell whether a value is a placeholder that clients send when they have no identifier."""
    return value.strip().strip("'\"").strip().lower() in BLOCKED_VALUES


def clean_identifier(value: object, *, field: str) -> str:
    """Return a stripped openid/unionid or raise InvalidInput naming the field.

    WeChat's own samples carry stray whitespace (PLATFORM.md), so values are stripped first.
    """
    if not isinstance(value, str):
        raise InvalidInput({field: ["Must be a string."]})
    stripped = value.strip()
    if is_blocked(stripped):
        raise InvalidInput({field: ["This value is a placeholder and cannot identify anyone."]})
    if not IDENTIFIER_RE.fullmatch(stripped):
        raise InvalidInput({field: ["Must be 1 to 64 characters of A-Z, a-z, 0-9, _ or -."]})
    return stripped
