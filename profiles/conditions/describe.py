"""Render a condition as readable text for the admin, next to its JSON.

Every sentence goes through gettext, so that "reads as" is in the staff's language; the words
for fields are those of the condition builder (labels.py).
"""

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from profiles.conditions.grammar import MAX_DEPTH
from profiles.conditions.labels import FIELD_LABELS
from profiles.conditions.values import is_int


def describe(node, depth: int = 0) -> str:
    """Return a one-line English (or translated) reading of a condition tree.

    Any JSON is read without failing (the admin renders the input of a form with errors, and
    conditions stored before today's bounds): what is not a valid node reads as "(invalid)",
    and a value that is missing reads as "?" (never as Python's "None").
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
        return _("has tag “%(tag)s”") % {"tag": _shown(node["tag"])}
    if "app" in node:
        return _("uses app %(app)s") % {"app": _shown(node["app"])}
    if "followed" in node:
        return _("follows %(app)s") % {"app": _shown(node["followed"])}
    if "has_phone" in node:
        return _("has a phone number") if node["has_phone"] else _("has no phone number")
    if "field" in node:
        return _field(node)
    if "event" in node:
        return _event(node)
    return _("(invalid)")


def _shown(value) -> str:
    """A literal as it reads in a sentence: JSON's words rather than Python's, "?" if absent."""
    if value is None:
        return "?"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _join(children, word, depth) -> str:
    if not children:
        return _("(invalid)")
    text = word.join(describe(child, depth + 1) for child in children)
    return f"({text})" if depth and len(children) > 1 else text


def _field(node) -> str:
    field = node.get("field")
    label = str(FIELD_LABELS.get(field, field)) if isinstance(field, str) else _("(invalid)")
    op, value = node.get("op"), _shown(node.get("value"))
    if op == "within_days":
        return _("%(field)s within the last %(days)s days") % {"field": label, "days": value}
    if op == "older_than_days":
        return _("%(field)s more than %(days)s days ago") % {"field": label, "days": value}
    return _("%(field)s %(op)s %(value)s") % {"field": label, "op": _shown(op), "value": value}


def _plural(value) -> int:
    """A number ngettext can choose a plural form by (it refuses floats, infinity and text)."""
    return value if is_int(value) else 2


def _event(node) -> str:
    low, high = node.get("min_count"), node.get("max_count")
    if low is not None and high is not None:
        times = _("%(low)s to %(high)s times") % {"low": _shown(low), "high": _shown(high)}
    elif low is not None:
        times = ngettext("at least %(low)s time", "at least %(low)s times", _plural(low)) % {
            "low": _shown(low)
        }
    elif high is not None:
        times = ngettext("at most %(high)s time", "at most %(high)s times", _plural(high)) % {
            "high": _shown(high)
        }
    else:
        times = _("any number of times")
    return _("“%(event)s” %(times)s in the last %(days)s days") % {
        "event": _shown(node.get("event")),
        "times": times,
        "days": _shown(node.get("within_days")),
    }
