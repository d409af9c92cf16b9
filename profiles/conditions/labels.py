"""Words for the condition language in the staff's language: fields, operators, leaf kinds.

grammar.py names what the language holds; this module says it to people. The "reads as"
sentences (describe.py) and the admin's condition builder use the same words, translated
when they are shown (gettext_lazy), so that the two never disagree.
"""

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from profiles.conditions.grammar import (
    AMOUNT_FIELDS,
    COMPARISONS,
    COUNT_FIELDS,
    TEXT_FIELDS,
    TIME_FIELDS,
    TIME_OPS,
)

FIELD_LABELS: dict[str, Promise] = {
    "event_count": _("events"),
    "pay_count": _("payments"),
    "pay_total": _("amount paid"),
    "first_seen_at": _("first seen"),
    "last_seen_at": _("last seen"),
    "last_login_at": _("last login"),
    "last_pay_at": _("last payment"),
    "first_channel": _("first channel"),
}

OPERATOR_LABELS: dict[str, Promise] = {
    "=": _("equals"),
    "!=": _("does not equal"),
    "<": _("less than"),
    "<=": _("at most"),
    ">": _("more than"),
    ">=": _("at least"),
    "within_days": _("within the last … days"),
    "older_than_days": _("more than … days ago"),
}

KIND_LABELS: dict[str, Promise] = {
    "tag": _("has tag"),
    "app": _("uses app"),
    "followed": _("follows service account"),
    "has_phone": _("phone number"),
    "field": _("statistic"),
    "event": _("did event"),
}

GROUP_LABELS: dict[str, Promise] = {
    "all": _("all of"),
    "any": _("any of"),
    "not": _("not"),
}


def field_type(field: str) -> str:
    """The kind of value a field compares with: count, amount, time or text."""
    if field in COUNT_FIELDS:
        return "count"
    if field in AMOUNT_FIELDS:
        return "amount"
    if field in TIME_FIELDS:
        return "time"
    if field in TEXT_FIELDS:
        return "text"
    raise KeyError(field)


OPERATORS_BY_TYPE: dict[str, tuple[str, ...]] = {
    "count": COMPARISONS,
    "amount": COMPARISONS,
    "time": TIME_OPS,
    "text": ("=", "!="),
}
