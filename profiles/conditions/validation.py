"""Validate a condition tree, reporting each bad node by its path (e.g. `all[2].any[0]`)."""

from decimal import Decimal, InvalidOperation

from identity.models import App, AppKind
from profiles.conditions.grammar import (
    COMBINATORS,
    COMPARISONS,
    FIELDS,
    LEAVES,
    MAX_DAYS,
    MAX_DEPTH,
    MAX_NODES,
    NUMBER_FIELDS,
    TEXT_FIELDS,
    TIME_FIELDS,
    TIME_OPS,
)
from profiles.models import EventType, Tag


class ConditionInvalid(Exception):
    """A condition tree that cannot be evaluated; `errors` maps node paths to messages."""

    def __init__(self, errors: dict[str, list[str]]):
        self.errors = errors
        super().__init__("; ".join(f"{path}: {' '.join(msgs)}" for path, msgs in errors.items()))


class _Checker:
    def __init__(self, *, tags, apps, service_accounts, event_types, forbidden_tag):
        self.tags, self.apps, self.service_accounts = tags, apps, service_accounts
        self.event_types, self.forbidden_tag = event_types, forbidden_tag
        self.errors: dict[str, list[str]] = {}
        self.nodes = 0

    def fail(self, path: str, message: str) -> None:
        self.errors.setdefault(path or "$", []).append(message)

    def node(self, node, path: str, depth: int) -> None:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            if self.nodes == MAX_NODES + 1:
                self.fail(path, f"The condition has more than {MAX_NODES} nodes.")
            return
        if depth > MAX_DEPTH:
            self.fail(path, f"The condition is nested deeper than {MAX_DEPTH} levels.")
            return
        if not isinstance(node, dict) or len(node) == 0:
            self.fail(path, "Each node must be a non-empty object.")
            return
        kinds = [key for key in node if key in COMBINATORS or key in LEAVES]
        if len(kinds) != 1:
            self.fail(
                path,
                "A node needs exactly one of: " + ", ".join(COMBINATORS + LEAVES) + ".",
            )
            return
        getattr(self, f"check_{kinds[0]}")(node, path, depth)

    def _only(self, node, path, allowed) -> None:
        extra = sorted(set(node) - set(allowed))
        if extra:
            self.fail(path, f"Unexpected keys: {', '.join(extra)}.")

    def _children(self, node, path, depth, key) -> None:
        self._only(node, path, [key])
        children = node[key]
        if not isinstance(children, list) or not children:
            self.fail(f"{path}.{key}".lstrip("."), "Must be a non-empty list of conditions.")
            return
        for index, child in enumerate(children):
            self.node(child, f"{path}.{key}[{index}]".lstrip("."), depth + 1)

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
        if not isinstance(key, str) or key not in self.tags:
            self.fail(path, f"Unknown tag {key!r}.")
        elif key == self.forbidden_tag:
            self.fail(path, "A rule tag cannot depend on itself.")

    def check_app(self, node, path, depth):
        self._only(node, path, ["app"])
        if not isinstance(node["app"], str) or node["app"] not in self.apps:
            self.fail(path, f"Unknown appid {node['app']!r}.")

    def check_followed(self, node, path, depth):
        self._only(node, path, ["followed"])
        if not isinstance(node["followed"], str) or node["followed"] not in self.service_accounts:
            self.fail(path, f"{node['followed']!r} is not a registered service account.")

    def check_has_phone(self, node, path, depth):
        self._only(node, path, ["has_phone"])
        if not isinstance(node["has_phone"], bool):
            self.fail(path, "has_phone must be true or false.")

    def check_field(self, node, path, depth):
        self._only(node, path, ["field", "op", "value"])
        field, op, value = node.get("field"), node.get("op"), node.get("value")
        if not isinstance(field, str) or field not in FIELDS:
            self.fail(path, f"Unknown field {field!r}; known: {', '.join(FIELDS)}.")
            return
        if field in TIME_FIELDS:
            if op not in TIME_OPS:
                self.fail(path, f"{field} takes op {' or '.join(TIME_OPS)}.")
            elif not _is_days(value):
                self.fail(path, f"value must be a whole number of days, 1 to {MAX_DAYS}.")
        elif field in NUMBER_FIELDS:
            if op not in COMPARISONS:
                self.fail(path, f"{field} takes op {', '.join(COMPARISONS)}.")
            elif not _is_number(value):
                self.fail(path, "value must be a number.")
        elif field in TEXT_FIELDS:
            if op not in ("=", "!="):
                self.fail(path, f"{field} takes op = or !=.")
            elif not isinstance(value, str):
                self.fail(path, "value must be a string.")

    def check_event(self, node, path, depth):
        self._only(node, path, ["event", "within_days", "min_count", "max_count"])
        if not isinstance(node["event"], str) or node["event"] not in self.event_types:
            self.fail(path, f"Unknown event type {node['event']!r}.")
        if not _is_days(node.get("within_days")):
            self.fail(path, f"within_days must be a whole number of days, 1 to {MAX_DAYS}.")
        low, high = node.get("min_count"), node.get("max_count")
        for name, value in (("min_count", low), ("max_count", high)):
            if value is not None and (not _is_int(value) or value < 0):
                self.fail(path, f"{name} must be a whole number, 0 or more.")
                return
        if low is None and high is None:
            self.fail(path, "Give min_count, max_count or both.")
        elif low is not None and high is not None and low > high:
            self.fail(path, "min_count is greater than max_count.")


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_days(value) -> bool:
    return _is_int(value) and 1 <= value <= MAX_DAYS


def _is_number(value) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return True
    if isinstance(value, str):
        try:
            return Decimal(value).is_finite()
        except InvalidOperation:
            return False
    return False


def validate(condition, *, forbidden_tag: str | None = None) -> None:
    """Raise ConditionInvalid naming every bad node, or return when the tree is sound.

    `forbidden_tag` is the rule tag the condition belongs to: it may not depend on itself,
    directly or through other rule tags. Reads the known tags, apps and event types.
    """
    apps = dict(App.objects.values_list("appid", "kind"))
    tags = dict(Tag.objects.values_list("key", "condition"))
    checker = _Checker(
        tags=set(tags),
        apps=set(apps),
        service_accounts={appid for appid, kind in apps.items() if kind == AppKind.SERVICE_ACCOUNT},
        event_types=set(EventType.objects.values_list("key", flat=True)),
        forbidden_tag=forbidden_tag,
    )
    checker.node(condition, "", 1)
    if not checker.errors and forbidden_tag is not None:
        rules = {key: referenced_tags(cond) for key, cond in tags.items() if cond is not None}
        rules[forbidden_tag] = referenced_tags(condition)
        if _reaches(rules, start=forbidden_tag):
            checker.fail("$", "The rule depends on itself through other rule tags.")
    if checker.errors:
        raise ConditionInvalid(checker.errors)


def referenced_tags(node) -> set[str]:
    """The tag keys a (valid or not) condition tree mentions."""
    if isinstance(node, dict):
        found = {node["tag"]} if isinstance(node.get("tag"), str) else set()
        for value in node.values():
            found |= referenced_tags(value)
        return found
    if isinstance(node, list):
        return set().union(*(referenced_tags(child) for child in node)) if node else set()
    return set()


def _reaches(graph: dict[str, set[str]], *, start: str) -> bool:
    """Tell whether `start` can reach itself through the dependency graph."""
    seen, stack = set(), list(graph.get(start, ()))
    while stack:
        key = stack.pop()
        if key == start:
            return True
        if key not in seen:
            seen.add(key)
            stack.extend(graph.get(key, ()))
    return False
