"""Validate a condition tree, reporting each bad node by its path (e.g. `all[2].any[0]`).

`ConditionInvalid.errors` maps those paths to messages (what the API and the forms show, in the
request's language: the admin's Chinese staff read them at their rows);
`ConditionInvalid.located` lists the same messages with the path as a list of keys and indexes,
ending with the key of the leaf's bad value when there is one (`["all", 2, "value"]`), so that
the admin's condition builder can show each message at its row and input.
"""

import re
from dataclasses import dataclass

from django.utils.translation import gettext as _

from identity.models import App, AppKind
from profiles.conditions.dependencies import reaches, referenced_tags
from profiles.conditions.grammar import (
    AMOUNT_FIELDS,
    COMBINATORS,
    COMPARISONS,
    COUNT_FIELDS,
    FIELDS,
    LEAVES,
    MAX_COUNT,
    MAX_DAYS,
    MAX_DEPTH,
    MAX_NODES,
    MAX_TEXT,
    TEXT_FIELDS,
    TIME_FIELDS,
    TIME_OPS,
)
from profiles.conditions.values import (
    is_amount,
    is_count,
    is_days,
    is_event_count,
    shown,
    unfit_scalar,
)
from profiles.models import EventType, Tag

__all__ = ["ConditionInvalid", "check_shape", "path_parts", "referenced_tags", "validate"]

Located = list[tuple[list[str | int], str]]
_STEP = re.compile(r"([a-z_]+)((?:\[[0-9]+\])*)")


def path_parts(path: str) -> list[str | int]:
    """Split a path such as `all[2].not` into `["all", 2, "not"]`; the root (`$`) is `[]`."""
    parts: list[str | int] = []
    for step in path.split(".") if path and path != "$" else ():
        match = _STEP.fullmatch(step)
        if match is None:  # not a path this module writes: keep it whole
            parts.append(step)
            continue
        parts.append(match[1])
        parts.extend(int(index) for index in re.findall(r"[0-9]+", match[2]))
    return parts


class ConditionInvalid(Exception):
    """A condition tree that cannot be evaluated; `errors` maps node paths to messages and
    `located` lists each message with its path as parts (see the module's docstring)."""

    def __init__(self, errors: dict[str, list[str]], located: Located | None = None):
        self.errors = errors
        self.located = (
            located
            if located is not None
            else [(path_parts(path), msg) for path, msgs in errors.items() for msg in msgs]
        )
        super().__init__("; ".join(f"{path}: {' '.join(msgs)}" for path, msgs in errors.items()))


@dataclass(frozen=True)
class _Known:
    """What the database defines, that a condition may name."""

    tags: set[str]
    apps: set[str]
    service_accounts: set[str]
    event_types: set[str]


class _Checker:
    """Walk a tree once; with `known`, also check that the names it uses exist."""

    def __init__(self, *, known: _Known | None, forbidden_tag: str | None = None):
        self.known, self.forbidden_tag = known, forbidden_tag
        self.errors: dict[str, list[str]] = {}
        self.located: Located = []
        self.nodes = 0

    def fail(self, path: str, message: str, key: str | None = None) -> None:
        """Record a message for the node at `path`; `key` names the leaf's bad value."""
        self.errors.setdefault(path or "$", []).append(message)
        self.located.append((path_parts(path) + ([key] if key else []), message))

    def node(self, node, path: str, depth: int) -> None:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            if self.nodes == MAX_NODES + 1:
                self.fail(
                    path, _("The condition has more than %(count)d nodes.") % {"count": MAX_NODES}
                )
            return
        if depth > MAX_DEPTH:
            self.fail(
                path,
                _("The condition is nested deeper than %(count)d levels.") % {"count": MAX_DEPTH},
            )
            return
        if not isinstance(node, dict) or len(node) == 0:
            self.fail(path, _("Each node must be a non-empty object."))
            return
        unfit = unfit_scalar(node)
        if unfit:
            self.fail(path, unfit)
            return
        kinds = [key for key in node if key in COMBINATORS or key in LEAVES]
        if len(kinds) != 1:
            self.fail(
                path,
                _("A node needs exactly one of: %(kinds)s.")
                % {"kinds": ", ".join(COMBINATORS + LEAVES)},
            )
            return
        getattr(self, f"check_{kinds[0]}")(node, path, depth)

    def _only(self, node, path, allowed) -> None:
        extra = sorted(set(node) - set(allowed))
        if extra:
            self.fail(
                path,
                _("Unexpected keys: %(keys)s.") % {"keys": ", ".join(shown(key) for key in extra)},
            )

    def _children(self, node, path, depth, key) -> None:
        self._only(node, path, [key])
        children = node[key]
        if not isinstance(children, list) or not children:
            self.fail(f"{path}.{key}".lstrip("."), _("Must be a non-empty list of conditions."))
            return
        for index, child in enumerate(children):
            self.node(child, f"{path}.{key}[{index}]".lstrip("."), depth + 1)

    def _known(self, kind: str, name) -> bool:
        return isinstance(name, str) and (self.known is None or name in getattr(self.known, kind))

    def check_all(self, node, path, depth):
        self._children(node, path, depth, "all")

    def check_any(self, node, path, depth):
        self._children(node, path, depth, "any")

    def check_not(self, node, path, depth):
        self._only(node, path, ["not"])
        self.node(node["not"], f"{path}.not".lstrip("."), depth + 1)

    def check_tag(self, node, path, depth):
        self._only(node, path, ["tag"])
        key = node["tag"]
        if not self._known("tags", key):
            self.fail(path, _("Unknown tag %(tag)s.") % {"tag": shown(key)}, "tag")
        elif key == self.forbidden_tag:
            self.fail(path, _("A rule tag cannot depend on itself."), "tag")

    def check_app(self, node, path, depth):
        self._only(node, path, ["app"])
        if not self._known("apps", node["app"]):
            self.fail(path, _("Unknown appid %(appid)s.") % {"appid": shown(node["app"])}, "app")

    def check_followed(self, node, path, depth):
        self._only(node, path, ["followed"])
        if not self._known("service_accounts", node["followed"]):
            message = _("%(appid)s is not a registered service account.") % {
                "appid": shown(node["followed"])
            }
            self.fail(path, message, "followed")

    def check_has_phone(self, node, path, depth):
        self._only(node, path, ["has_phone"])
        if not isinstance(node["has_phone"], bool):
            self.fail(path, _("has_phone must be true or false."), "has_phone")

    def check_field(self, node, path, depth):
        self._only(node, path, ["field", "op", "value"])
        field, op, value = node.get("field"), node.get("op"), node.get("value")
        if not isinstance(field, str) or field not in FIELDS:
            self.fail(
                path,
                _("Unknown field %(field)s; known: %(known)s.")
                % {"field": shown(field), "known": ", ".join(FIELDS)},
                "field",
            )
            return
        if field in TIME_FIELDS:
            if op not in TIME_OPS:
                self.fail(
                    path,
                    _("%(field)s takes op %(ops)s.")
                    % {"field": field, "ops": " or ".join(TIME_OPS)},
                    "op",
                )
            elif not is_days(value):
                self.fail(
                    path,
                    _("value must be a whole number of days, 1 to %(max)d.") % {"max": MAX_DAYS},
                    "value",
                )
            return
        if field in TEXT_FIELDS:
            if op not in ("=", "!="):
                self.fail(path, _("%(field)s takes op = or !=.") % {"field": field}, "op")
            elif not isinstance(value, str) or len(value) > MAX_TEXT:
                message = _("value must be a string of at most %(max)d characters.") % {
                    "max": MAX_TEXT
                }
                self.fail(path, message, "value")
            return
        if op not in COMPARISONS:
            self.fail(
                path,
                _("%(field)s takes op %(ops)s.") % {"field": field, "ops": ", ".join(COMPARISONS)},
                "op",
            )
        elif field in COUNT_FIELDS and not is_count(value):
            self.fail(
                path,
                _("value must be a whole number from 0 to %(max)d.") % {"max": MAX_COUNT},
                "value",
            )
        elif field in AMOUNT_FIELDS and not is_amount(value):
            self.fail(
                path,
                _(
                    "value must be an amount with at most 14 digits before the decimal point "
                    "and 2 after it."
                ),
                "value",
            )

    def check_event(self, node, path, depth):
        self._only(node, path, ["event", "within_days", "min_count", "max_count"])
        if not self._known("event_types", node["event"]):
            self.fail(
                path, _("Unknown event type %(type)s.") % {"type": shown(node["event"])}, "event"
            )
        if not is_days(node.get("within_days")):
            message = _("within_days must be a whole number of days, 1 to %(max)d.") % {
                "max": MAX_DAYS
            }
            self.fail(path, message, "within_days")
        low, high = node.get("min_count"), node.get("max_count")
        for name, value in (("min_count", low), ("max_count", high)):
            if value is not None and not is_event_count(value):
                self.fail(
                    path,
                    _("%(name)s must be a whole number from 0 to %(max)d.")
                    % {
                        "name": name,
                        "max": MAX_COUNT,
                    },
                    name,
                )
                return
        if low is None and high is None:
            self.fail(path, _("Give min_count, max_count or both."), "min_count")
        elif low is not None and high is not None and low > high:
            self.fail(path, _("min_count is greater than max_count."), "min_count")


def check_shape(condition) -> None:
    """Raise ConditionInvalid unless the tree is well formed with values the columns hold.

    Reads nothing: the compiler runs it on every tree, so that one stored before a bound
    existed fails here, by its path, rather than in PostgreSQL. Names (tags, apps, event types)
    are not looked up; an unknown one matches nobody.
    """
    checker = _Checker(known=None)
    checker.node(condition, "", 1)
    if checker.errors:
        raise ConditionInvalid(checker.errors, checker.located)


def validate(condition, *, forbidden_tag: str | None = None) -> None:
    """Raise ConditionInvalid naming every bad node, or return when the tree is sound.

    `forbidden_tag` is the rule tag the condition belongs to: it may not depend on itself,
    directly or through other rule tags. Reads the known tags, apps and event types.
    """
    apps = dict(App.objects.values_list("appid", "kind"))
    tags = dict(Tag.objects.values_list("key", "condition"))
    known = _Known(
        tags=set(tags),
        apps=set(apps),
        service_accounts={appid for appid, kind in apps.items() if kind == AppKind.SERVICE_ACCOUNT},
        event_types=set(EventType.objects.values_list("key", flat=True)),
    )
    checker = _Checker(known=known, forbidden_tag=forbidden_tag)
    checker.node(condition, "", 1)
    if not checker.errors and forbidden_tag is not None:
        rules = {key: referenced_tags(cond) for key, cond in tags.items() if cond is not None}
        rules[forbidden_tag] = referenced_tags(condition)
        if reaches(rules, start=forbidden_tag):
            checker.fail("$", _("The rule depends on itself through other rule tags."))
    if checker.errors:
        raise ConditionInvalid(checker.errors, checker.located)
