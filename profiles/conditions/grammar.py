"""The vocabulary of the condition language, shared by validation, compilation and rendering."""

MAX_DEPTH = 8
MAX_NODES = 64
MAX_DAYS = 3650

COMBINATORS = ("all", "any", "not")
LEAVES = ("tag", "app", "followed", "has_phone", "field", "event")

NUMBER_FIELDS = {
    "event_count": "events",
    "pay_count": "payments",
    "pay_total": "amount paid",
}
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
