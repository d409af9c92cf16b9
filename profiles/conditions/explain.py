"""Why one person holds a rule tag or is in a segment: every leaf of every condition, held or not.

The operator's question ("why is she dormant?", "why is he not in the campaign?") is answered by
the same compiled SQL as the refresh: each distinct leaf of all rule tags and segments becomes
one boolean column of a single statement restricted to the live person (and each rule tag one
more column: does the person hold it now). Each column is the refresh's filter as a correlated
EXISTS on the person, so that the planner probes that person's rows (an event leaf reads the
person's events, not everyone's). Python then folds the leaves up each tree (`all`, `any`,
`not`), so the groups' results are those of the whole condition. Three queries whatever the
number of tags: the rule tags, the segments and that statement (two when there are none).
Callers run it under `bounded_statements`: it is read on every person page.

A leaf that cannot be evaluated (a condition stored before today's bounds) reads as unknown, and
so does a group that depends on it, and the root of a tree that the compiler's shape check
rejects as a whole; the rest is still shown.
"""

import json
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime

from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from identity.models import Person
from profiles.conditions.compiler import compile_condition
from profiles.conditions.describe import describe
from profiles.conditions.validation import ConditionInvalid, check_shape
from profiles.models import Segment, Tag, TagAssignment, TagKind

GROUPS = ("all", "any", "not")
# PostgreSQL takes at most 1664 columns in a select list: more leaves take another statement.
COLUMNS_PER_STATEMENT = 1000


@dataclass(frozen=True)
class Node:
    """One node of a condition for one person: `kind` is all/any/not or leaf; `held` is None
    when it could not be evaluated."""

    kind: str
    held: bool | None
    text: str = ""
    children: tuple["Node", ...] = ()


@dataclass(frozen=True)
class Explanation:
    """One rule tag or segment: what its condition says now for the person, and (rule tags)
    whether the person holds the tag, which a refresh makes equal to the condition."""

    kind: str  # "tag" or "segment"
    key: str
    name: str
    pk: int
    tree: Node
    holds: bool | None = None
    last_refreshed_at: datetime | None = None

    @property
    def differs(self) -> bool:
        """The tag's holders lag its condition: the last refresh predates a change."""
        return self.kind == "tag" and self.tree.held is not None and self.holds != self.tree.held


@dataclass
class _Leaves:
    """The distinct leaves of the conditions explained, each one column of the statement."""

    columns: dict[str, Q | None] = field(default_factory=dict)  # column -> compiled, or None
    by_text: dict[str, str] = field(default_factory=dict)  # leaf JSON -> column

    def column(self, leaf: dict, now: datetime) -> str:
        text = json.dumps(leaf, sort_keys=True)
        if text not in self.by_text:
            name = f"leaf_{len(self.by_text)}"
            self.by_text[text] = name
            try:
                self.columns[name] = compile_condition(leaf, now=now)
            except (ConditionInvalid, ValueError, TypeError, KeyError):
                self.columns[name] = None
        return self.by_text[text]


def explain_person(
    person: Person, *, tags: bool = True, segments: bool = True, now: datetime | None = None
) -> list[Explanation]:
    """Explain every rule tag (when `tags`), then every segment (when `segments`), by key.

    Nothing for a merged-away or erased person: the refresh gives them no rule tag and no
    segment counts them, so any other answer would be one the refresh never gives.
    """
    if person.merged_into_id is not None or person.erased_at is not None:
        return []
    now = now or timezone.now()
    rule_tags = list(Tag.objects.filter(kind=TagKind.RULE).order_by("key")) if tags else []
    saved_segments = list(Segment.objects.order_by("key")) if segments else []
    if not rule_tags and not saved_segments:
        return []
    leaves = _Leaves()
    shapes = [_tree(tag.condition, leaves, now) for tag in rule_tags]
    shapes += [_tree(segment.condition, leaves, now) for segment in saved_segments]
    holds = {f"holds_{tag.pk}": _holds(tag, now) for tag in rule_tags}
    values = _evaluate(person.pk, {**leaves.columns, **holds})

    explained = []
    for tag, shape in zip(rule_tags, shapes, strict=False):
        explained.append(
            Explanation(
                kind="tag",
                key=tag.key,
                name=str(tag),
                pk=tag.pk,
                tree=_fold(shape, values),
                holds=values.get(f"holds_{tag.pk}"),
                last_refreshed_at=tag.last_refreshed_at,
            )
        )
    for segment, shape in zip(saved_segments, shapes[len(rule_tags) :], strict=True):
        explained.append(
            Explanation(
                kind="segment",
                key=segment.key,
                name=str(segment),
                pk=segment.pk,
                tree=_fold(shape, values),
            )
        )
    return explained


def _holds(tag: Tag, now: datetime) -> Q:
    return Q(Exists(TagAssignment.objects.active(now).filter(tag=tag, person_id=OuterRef("pk"))))


def _tree(condition, leaves: _Leaves, now: datetime):
    """The condition's shape, its root marked unknown when the tree as a whole is unsound.

    The compiler checks the whole tree before compiling it (too deep, too many nodes): such a
    condition makes the refresh fail, so no leaf-by-leaf answer may read as held or not.
    """
    shape = _shape(condition, leaves, now)
    try:
        check_shape(condition)
    except (ConditionInvalid, ValueError, TypeError, KeyError, RecursionError):
        return "unsound", shape
    return shape


def _shape(node, leaves: _Leaves, now: datetime, depth: int = 0):
    """The tree with each leaf replaced by (its column, its text); a node that is not a valid
    group or leaf becomes an unknown leaf."""
    if isinstance(node, dict) and depth <= 8:
        for kind in ("all", "any"):
            if isinstance(node.get(kind), list) and node[kind]:
                return kind, [_shape(child, leaves, now, depth + 1) for child in node[kind]]
        if "not" in node:
            return "not", [_shape(node["not"], leaves, now, depth + 1)]
        return "leaf", (leaves.column(node, now), describe(node))
    return "leaf", (None, describe(node))


def _evaluate(person_id: int, columns: dict[str, Q | None]) -> dict[str, bool | None]:
    """Evaluate the compiled columns for one live person, a thousand columns a statement."""
    values: dict[str, bool | None] = {name: None for name, q in columns.items() if q is None}
    compiled = [(name, q) for name, q in columns.items() if q is not None]
    for chunk in _chunks(compiled, COLUMNS_PER_STATEMENT):
        annotations = {name: _held(q) for name, q in chunk}
        row = Person.objects.live().filter(pk=person_id).values(**annotations).first() or {}
        values.update({name: row.get(name) for name, _ in chunk})
    return values


def _held(q: Q) -> Exists:
    """Whether the person passes the refresh's filter `q`, as a correlated EXISTS.

    Not `q` itself in the select list: there, an event leaf's `pk IN (... GROUP BY person_id)`
    runs as a subplan over everyone's events. Inside EXISTS it is a semi-join to which the
    planner adds `person_id = <the person>`. A negated filter (at most N times, a field that
    persons without stats pass) becomes NOT EXISTS of the positive one, where `NOT IN` would
    hash the whole subquery again; the compiler's subqueries return no NULL, so both read the
    same for every person.
    """
    if q.negated:
        return ~Exists(_this_person(~q))
    return Exists(_this_person(q))


def _this_person(q: Q):
    return Person.objects.filter(pk=OuterRef("pk")).filter(q)


def _chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _fold(shape, values: dict[str, bool | None]) -> Node:
    kind, content = shape
    if kind == "unsound":
        return replace(_fold(content, values), held=None)
    if kind == "leaf":
        column, text = content
        return Node(kind="leaf", held=values.get(column) if column else None, text=text)
    children = tuple(_fold(child, values) for child in content)
    results = [child.held for child in children]
    if kind == "not":
        held = None if results[0] is None else not results[0]
    elif kind == "all":
        held = False if False in results else (None if None in results else True)
    else:
        held = True if True in results else (None if None in results else False)
    return Node(kind=kind, held=held, children=children)
