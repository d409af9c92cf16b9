"""The vocabulary of the condition language, shared by validation, compilation and rendering.

The bounds are those of the columns a condition compares with, so that every valid literal can
be sent to PostgreSQL as it stands.
"""

MAX_DEPTH = 8
MAX_NODES = 64
MAX_DAYS = 3650
# PostgreSQL `integer`: the stats counts (PositiveIntegerField) and what an event count can reach.
MAX_COUNT = 2_147_483_647
# PersonStats.pay_total is numeric(16, 2).
AMOUNT_DIGITS, AMOUNT_PLACES = 16, 2
# PersonStats.first_channel holds 64 characters: a longer value could never match.
MAX_TEXT = 64

COMBINATORS = ("all", "any", "not")
LEAVES = ("tag", "app", "followed", "has_phone", "field", "event")

NUMBER_FIELDS = {
    "event_count": "events",
    "pay_count": "payments",
    "pay_total": "amount paid",
}
COUNT_FIELDS = ("event_count", "pay_count")
AMOUNT_FIELDS = ("pay_total",)
TIME_FIELDS = {
    "first_seen_at": "first seen",
    "last_seen_at": "last seen",
    "last_login_at": "last login",
    "last_pay_at": "last payment",
}
TEXT_FIELDS = {"first_channel": "first channel"}
FIELDS = {**NUMBER_FIELDS, **TIME_FIELDS, **TEXT_FIELDS}

COMPARISONS = ("=", "!=", "<", "<=", ">", ">=")
TIME_OPS = ("within_days", "older_than_days")
