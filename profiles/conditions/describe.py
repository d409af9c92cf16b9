"""Render a condition as readable text for the admin, next to its JSON."""

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from profiles.conditions.grammar import FIELDS, MAX_DEPTH
from profiles.conditions.values import is_int


def describe(node, depth: int = 0) -> str:
    """Return a one-line English (or translated) reading of a condition tree.

    Any JSON is read without failing (the admin renders the input of a form with errors, and
    conditions stored before today's bounds): what is not a valid node reads as "(invalid)".
    """
    if not isinstance(node, dict) or depth > MAX_DEPTH:
        return _("(invalid)")
    if "all" in node and isinstance(node["all"], list):
        return _join(node["all"], _(" and "), depth)
    if "any" in node and isinstance(node["any"], list):
        return _join(node["any"], _(" or "), depth)
    if "not" in node:
        return _("not %(condition)s") % {"condition": describe(node["not"], depth + 1)}
    if "tag" in node:
        return _("has tag “%(tag)s”") % {"tag": node["tag"]}
    if "app" in node:
        return _("uses app %(app)s") % {"app": node["app"]}
    if "followed" in node:
        return _("follows %(app)s") % {"app": node["followed"]}
    if "has_phone" in node:
        return _("has a phone number") if node["has_phone"] else _("has no phone number")
    if "field" in node:
        return _field(node)
    if "event" in node:
        return _event(node)
    return _("(invalid)")


def _join(children, word, depth) -> str:
    text = word.join(describe(child, depth + 1) for child in children)
    return f"({text})" if depth and len(children) > 1 else text


def _field(node) -> str:
    field = node.get("field")
    label = FIELDS.get(field, field) if isinstance(field, str) else _("(invalid)")
    op, value = node.get("op"), node.get("value")
    if op == "within_days":
        return _("%(field)s within the last %(days)s days") % {"field": label, "days": value}
    if op == "older_than_days":
        return _("%(field)s more than %(days)s days ago") % {"field": label, "days": value}
    return f"{label} {op} {value}"


def _plural(value) -> int:
    """A number ngettext can choose a plural form by (it refuses floats, infinity and text)."""
    return value if is_int(value) else 2


def _event(node) -> str:
    low, high = node.get("min_count"), node.get("max_count")
    if low is not None and high is not None:
        times = _("%(low)s to %(high)s times") % {"low": low, "high": high}
    elif low is not None:
        times = ngettext("at least %(low)s time", "at least %(low)s times", _plural(low)) % {
            "low": low
        }
    else:
        times = ngettext("at most %(high)s time", "at most %(high)s times", _plural(high)) % {
            "high": high
        }
    return _("“%(event)s” %(times)s in the last %(days)s days") % {
        "event": node.get("event"),
        "times": times,
        "days": node.get("within_days"),
    }
