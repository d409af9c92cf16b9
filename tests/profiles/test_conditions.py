"""The condition language (DESIGN.md, "Conditions") against a small hand-built population.

Every leaf and combinator is checked by the exact set of matching persons; invalid trees by the
paths that `validate` names.
"""

import itertools
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.utils import timezone

from identity.models import Person
from identity.services.erase import erase_person
from identity.services.merge import merge_persons
from identity.services.phone import bind_phone
from identity.services.resolve import resolve_identity
from profiles.conditions import ConditionInvalid, describe, matching_persons, validate
from profiles.models import PersonStats, TagAssignment
from profiles.services.ingest import ingest_events
from profiles.services.tags import assign_tags

pytestmark = pytest.mark.django_db

MINI = "wx1111111111111111"
SERVICE = "wx2222222222222222"
H5 = "wx3333333333333333"

_ids = itertools.count(1)


@dataclass
class Population:
    """Five persons whose facts are chosen so that each leaf splits them differently.

    alice  mini-program; phone; vip; pays 10 (2 days ago) and 25 (5 days ago); first seen 40
           days ago on channel "ad", last seen 1 day ago.
    bob    service account, follows it (subscribed 10 days ago, channel "qr"); vip expired;
           paid 100 sixty days ago.
    carol  service account, subscribed 20 days ago and unsubscribed 3 days ago; no payment.
    dave   h5 only, never reported an event: no stats row at all.
    erin   mini-program; phone; one view 100 days ago on channel "search".
    """

    alice: Person
    bob: Person
    carol: Person
    dave: Person
    erin: Person

    def pks(self, *names: str) -> set[int]:
        return {getattr(self, name).pk for name in names}


EVERYONE = ("alice", "bob", "carol", "dave", "erin")


def _event(appid, openid, type_, days_ago, **extra):
    when = timezone.now() - timedelta(days=days_ago)
    return {
        "event_id": f"cond-{next(_ids)}",
        "appid": appid,
        "openid": openid,
        "type": type_,
        "occurred_at": when.isoformat(),
        **extra,
    }


@pytest.fixture
def population(miniprogram, service_account, h5, actor) -> Population:
    # seen=False: a resolve marks its person seen now (docs/lifecycle.md, "Seen"); here they are
    # seen only by the events below, as the docstring says (dave: no stats row at all).
    def person(app, openid):
        return resolve_identity(app=app, openid=openid, actor=actor, seen=False).person

    persons = {
        "alice": person(miniprogram, "oAlice"),
        "bob": person(service_account, "oBob"),
        "carol": person(service_account, "oCarol"),
        "dave": person(h5, "oDave"),
        "erin": person(miniprogram, "oErin"),
    }
    result = ingest_events(
        events=[
            _event(MINI, "oAlice", "register", 40, channel="ad"),
            _event(MINI, "oAlice", "pay", 5, amount="25.00"),
            _event(MINI, "oAlice", "pay", 2, amount="10.00"),
            _event(MINI, "oAlice", "view", 1),
            _event(SERVICE, "oBob", "pay", 60, amount="100.00"),
            _event(SERVICE, "oBob", "subscribe", 10, channel="qr"),
            _event(SERVICE, "oCarol", "subscribe", 20),
            _event(SERVICE, "oCarol", "unsubscribe", 3),
            _event(MINI, "oErin", "view", 100, channel="search"),
        ],
        actor=actor,
    )
    assert (result.accepted, result.errors) == (9, [])
    bind_phone(person=persons["alice"], phone="13800000001", actor=actor)
    bind_phone(person=persons["erin"], phone="13800000002", actor=actor)
    assign_tags(person=persons["alice"], keys=["vip"], actor=actor)
    assign_tags(person=persons["bob"], keys=["vip"], actor=actor)
    TagAssignment.objects.filter(person=persons["bob"], tag__key="vip").update(
        expires_at=timezone.now() - timedelta(hours=1)
    )
    return Population(**persons)


def matches(condition) -> set[int]:
    validate(condition)  # every tree used here is valid
    return set(matching_persons(condition).values_list("pk", flat=True))


def test_population_is_as_described(population):
    """Guard the fixture: the expectations below rely on these stats."""
    assert not PersonStats.objects.filter(person=population.dave).exists()
    alice = Person.objects.select_related("stats").get(pk=population.alice.pk).stats
    assert (alice.pay_count, str(alice.pay_total), alice.first_channel) == (2, "35.00", "ad")
    bob = Person.objects.select_related("stats").get(pk=population.bob.pk).stats
    assert (bob.pay_count, str(bob.pay_total), bob.first_channel) == (1, "100.00", "qr")


# --- leaves ---------------------------------------------------------------------------------

LEAF_CASES = [
    # tag: an expired assignment is not held
    ("tag-active-only", {"tag": "vip"}, {"alice"}),
    ("tag-nobody", {"tag": "high_value"}, set()),
    # app: has an identity there
    ("app-mini", {"app": MINI}, {"alice", "erin"}),
    ("app-service", {"app": SERVICE}, {"bob", "carol"}),
    ("app-h5", {"app": H5}, {"dave"}),
    # followed: only those following now (carol unsubscribed)
    ("followed", {"followed": SERVICE}, {"bob"}),
    ("has-phone", {"has_phone": True}, {"alice", "erin"}),
    ("has-no-phone", {"has_phone": False}, {"bob", "carol", "dave"}),
    # numbers: a person without stats counts as zero
    ("pay-count-eq-0", {"field": "pay_count", "op": "=", "value": 0}, {"carol", "dave", "erin"}),
    ("pay-count-eq-2", {"field": "pay_count", "op": "=", "value": 2}, {"alice"}),
    ("pay-count-ne-0", {"field": "pay_count", "op": "!=", "value": 0}, {"alice", "bob"}),
    (
        "pay-count-ne-2",
        {"field": "pay_count", "op": "!=", "value": 2},
        {"bob", "carol", "dave", "erin"},
    ),
    ("pay-count-lt-1", {"field": "pay_count", "op": "<", "value": 1}, {"carol", "dave", "erin"}),
    (
        "pay-count-le-1",
        {"field": "pay_count", "op": "<=", "value": 1},
        {"bob", "carol", "dave", "erin"},
    ),
    ("pay-count-gt-1", {"field": "pay_count", "op": ">", "value": 1}, {"alice"}),
    ("pay-count-gt-0", {"field": "pay_count", "op": ">", "value": 0}, {"alice", "bob"}),
    ("pay-count-ge-1", {"field": "pay_count", "op": ">=", "value": 1}, {"alice", "bob"}),
    ("pay-count-ge-0", {"field": "pay_count", "op": ">=", "value": 0}, set(EVERYONE)),
    ("pay-total-eq", {"field": "pay_total", "op": "=", "value": "35.00"}, {"alice"}),
    ("pay-total-eq-int", {"field": "pay_total", "op": "=", "value": 35}, {"alice"}),
    (
        "pay-total-ne",
        {"field": "pay_total", "op": "!=", "value": 100},
        {"alice", "carol", "dave", "erin"},
    ),
    (
        "pay-total-lt",
        {"field": "pay_total", "op": "<", "value": 50},
        {"alice", "carol", "dave", "erin"},
    ),
    (
        "pay-total-le",
        {"field": "pay_total", "op": "<=", "value": "35"},
        {"alice", "carol", "dave", "erin"},
    ),
    ("pay-total-gt", {"field": "pay_total", "op": ">", "value": 35}, {"bob"}),
    ("pay-total-ge", {"field": "pay_total", "op": ">=", "value": 35.0}, {"alice", "bob"}),
    # times: a person without stats is never within nor older than
    (
        "last-seen-within-7",
        {"field": "last_seen_at", "op": "within_days", "value": 7},
        {"alice", "carol"},
    ),
    (
        "last-seen-within-30",
        {"field": "last_seen_at", "op": "within_days", "value": 30},
        {"alice", "bob", "carol"},
    ),
    (
        "last-seen-older-7",
        {"field": "last_seen_at", "op": "older_than_days", "value": 7},
        {"bob", "erin"},
    ),
    (
        "last-seen-older-90",
        {"field": "last_seen_at", "op": "older_than_days", "value": 90},
        {"erin"},
    ),
    (
        "first-seen-within-30",
        {"field": "first_seen_at", "op": "within_days", "value": 30},
        {"carol"},
    ),
    (
        "first-seen-older-50",
        {"field": "first_seen_at", "op": "older_than_days", "value": 50},
        {"bob", "erin"},
    ),
    (
        "first-seen-older-1",
        {"field": "first_seen_at", "op": "older_than_days", "value": 1},
        {"alice", "bob", "carol", "erin"},
    ),
    ("last-pay-within-3", {"field": "last_pay_at", "op": "within_days", "value": 3}, {"alice"}),
    (
        "event-count-ge-2",
        {"field": "event_count", "op": ">=", "value": 2},
        {"alice", "bob", "carol"},
    ),
    ("last-login-never", {"field": "last_login_at", "op": "older_than_days", "value": 1}, set()),
    ("last-login-never-within", {"field": "last_login_at", "op": "within_days", "value": 1}, set()),
    # text
    ("channel-eq", {"field": "first_channel", "op": "=", "value": "ad"}, {"alice"}),
    (
        "channel-ne",
        {"field": "first_channel", "op": "!=", "value": "ad"},
        {"bob", "carol", "dave", "erin"},
    ),
    ("channel-eq-empty", {"field": "first_channel", "op": "=", "value": ""}, {"carol", "dave"}),
    # events: count of a type in a window
    ("pay-30-min-1", {"event": "pay", "within_days": 30, "min_count": 1}, {"alice"}),
    ("pay-90-min-1", {"event": "pay", "within_days": 90, "min_count": 1}, {"alice", "bob"}),
    ("pay-90-min-2", {"event": "pay", "within_days": 90, "min_count": 2}, {"alice"}),
    ("pay-3-min-1", {"event": "pay", "within_days": 3, "min_count": 1}, {"alice"}),
    ("pay-3-min-2", {"event": "pay", "within_days": 3, "min_count": 2}, set()),
    (
        "pay-90-max-1",
        {"event": "pay", "within_days": 90, "max_count": 1},
        {"bob", "carol", "dave", "erin"},
    ),
    (
        "pay-90-between-1-1",
        {"event": "pay", "within_days": 90, "min_count": 1, "max_count": 1},
        {"bob"},
    ),
    (
        "pay-90-between-1-2",
        {"event": "pay", "within_days": 90, "min_count": 1, "max_count": 2},
        {"alice", "bob"},
    ),
    # "did not pay in 30 days" includes persons who never sent an event
    (
        "pay-30-max-0",
        {"event": "pay", "within_days": 30, "max_count": 0},
        {"bob", "carol", "dave", "erin"},
    ),
    (
        "pay-90-min-0-max-1",
        {"event": "pay", "within_days": 90, "min_count": 0, "max_count": 1},
        {"bob", "carol", "dave", "erin"},
    ),
    # min_count 0 alone is a valid tree ("0 or more times"): everyone
    ("pay-30-min-0", {"event": "pay", "within_days": 30, "min_count": 0}, set(EVERYONE)),
    ("view-7-min-1", {"event": "view", "within_days": 7, "min_count": 1}, {"alice"}),
    ("subscribe-15-min-1", {"event": "subscribe", "within_days": 15, "min_count": 1}, {"bob"}),
]


@pytest.mark.parametrize(
    ("condition", "expected"),
    [case[1:] for case in LEAF_CASES],
    ids=[case[0] for case in LEAF_CASES],
)
def test_leaf_matches_exactly(population, condition, expected):
    assert matches(condition) == population.pks(*expected)


# --- combinators ----------------------------------------------------------------------------

COMBINATOR_CASES = [
    ("all", {"all": [{"app": MINI}, {"has_phone": True}]}, {"alice", "erin"}),
    ("all-one-child", {"all": [{"app": MINI}]}, {"alice", "erin"}),
    ("all-disjoint", {"all": [{"app": MINI}, {"app": SERVICE}]}, set()),
    ("any", {"any": [{"followed": SERVICE}, {"tag": "vip"}]}, {"alice", "bob"}),
    ("any-one-child", {"any": [{"app": H5}]}, {"dave"}),
    ("not-app", {"not": {"app": MINI}}, {"bob", "carol", "dave"}),
    ("not-tag", {"not": {"tag": "vip"}}, {"bob", "carol", "dave", "erin"}),
    # negation over a person without stats: dave has no stats row and is "not recently seen"
    (
        "not-within",
        {"not": {"field": "last_seen_at", "op": "within_days", "value": 7}},
        {"bob", "dave", "erin"},
    ),
    (
        "not-older-than",
        {"not": {"field": "last_seen_at", "op": "older_than_days", "value": 7}},
        {"alice", "carol", "dave"},
    ),
    (
        "not-pay-count",
        {"not": {"field": "pay_count", "op": ">=", "value": 1}},
        {"carol", "dave", "erin"},
    ),
    (
        "not-pay-count-eq-0",
        {"not": {"field": "pay_count", "op": "=", "value": 0}},
        {"alice", "bob"},
    ),
    (
        "not-event",
        {"not": {"event": "pay", "within_days": 90, "min_count": 1}},
        {"carol", "dave", "erin"},
    ),
    (
        "not-event-max",
        {"not": {"event": "pay", "within_days": 30, "max_count": 0}},
        {"alice"},
    ),
    ("not-not", {"not": {"not": {"has_phone": True}}}, {"alice", "erin"}),
    (
        "nested",
        {"all": [{"any": [{"app": MINI}, {"app": H5}]}, {"not": {"has_phone": True}}]},
        {"dave"},
    ),
    (
        "nested-deeper",
        {
            "any": [
                {"all": [{"app": SERVICE}, {"not": {"followed": SERVICE}}]},
                {"all": [{"has_phone": True}, {"field": "pay_count", "op": "=", "value": 0}]},
            ]
        },
        {"carol", "erin"},
    ),
    (
        "campaign",
        {
            "all": [
                {"any": [{"followed": SERVICE}, {"has_phone": True}]},
                {"not": {"tag": "vip"}},
                {"field": "pay_count", "op": ">=", "value": 1},
            ]
        },
        {"bob"},
    ),
]


@pytest.mark.parametrize(
    ("condition", "expected"),
    [case[1:] for case in COMBINATOR_CASES],
    ids=[case[0] for case in COMBINATOR_CASES],
)
def test_combinator_matches_exactly(population, condition, expected):
    assert matches(condition) == population.pks(*expected)


def test_design_example_tree_compiles_to_one_query(population, django_assert_num_queries):
    tree = {
        "all": [
            {"tag": "vip"},
            {"not": {"tag": "churned"}},
            {"any": [{"followed": SERVICE}, {"has_phone": True}]},
            {"app": MINI},
            {"field": "pay_count", "op": ">=", "value": 2},
            {"field": "last_seen_at", "op": "older_than_days", "value": 30},
            {"event": "pay", "within_days": 30, "min_count": 1},
        ]
    }
    validate(tree)
    with django_assert_num_queries(1):
        pks = list(matching_persons(tree).values_list("pk", flat=True))
    assert pks == []  # alice would match but was seen yesterday

    tree["all"][5] = {"field": "last_seen_at", "op": "within_days", "value": 30}
    assert matches(tree) == population.pks("alice")


def test_every_leaf_kind_in_one_tree_is_one_query(population, django_assert_num_queries):
    # (the min_count-0-only leaf is left out: it has a test of its own)
    leaves = [condition for name, condition, _ in LEAF_CASES if name != "pay-30-min-0"]
    tree = {"any": leaves[:63]}
    validate(tree)
    with django_assert_num_queries(1):
        list(matching_persons(tree).values_list("pk", flat=True))


def test_merged_away_and_erased_persons_never_match(population, miniprogram, actor):
    ghost = resolve_identity(app=miniprogram, openid="oGhost", actor=actor).person
    merge_persons(first=population.dave, second=ghost, reason="manual", actor=actor)
    erase_person(person=population.carol, actor=actor)

    assert matches({"has_phone": False}) == population.pks("bob", "dave")
    assert matches({"app": MINI}) == population.pks("alice", "erin", "dave")


def test_matching_uses_the_given_now(population):
    """`now` shifts every window: as of 5 days ago, "within 7 days" reaches back 12 days."""
    then = timezone.now() - timedelta(days=5)
    condition = {"field": "last_seen_at", "op": "within_days", "value": 7}
    found = set(matching_persons(condition, now=then).values_list("pk", flat=True))
    assert found == population.pks("alice", "bob", "carol")
    old = {"field": "last_seen_at", "op": "older_than_days", "value": 7}
    assert set(matching_persons(old, now=then).values_list("pk", flat=True)) == population.pks(
        "erin"
    )


# --- validation -----------------------------------------------------------------------------


def _nested_not(levels: int) -> dict:
    node: dict = {"has_phone": True}
    for _ in range(levels):
        node = {"not": node}
    return node


def _nested_all(levels: int) -> dict:
    node: dict = {"has_phone": True}
    for _ in range(levels):
        node = {"all": [node]}
    return node


INVALID_CASES = [
    ("not-an-object", ["tag", "vip"], {"$"}),
    ("null-root", None, {"$"}),
    ("empty-object", {}, {"$"}),
    ("unknown-key-alone", {"colour": "red"}, {"$"}),
    ("unknown-key-beside-leaf", {"tag": "vip", "colour": "red"}, {"$"}),
    ("two-kinds", {"tag": "vip", "app": MINI}, {"$"}),
    ("two-combinators", {"all": [{"has_phone": True}], "any": [{"has_phone": True}]}, {"$"}),
    ("empty-all", {"all": []}, {"all"}),
    ("non-list-any", {"any": {"tag": "vip"}}, {"any"}),
    ("nested-empty-any", {"all": [{"has_phone": True}, {"any": []}]}, {"all[1].any"}),
    ("child-not-object", {"all": [{"has_phone": True}, "vip"]}, {"all[1]"}),
    ("unknown-tag", {"all": [{"has_phone": True}, {"tag": "nope"}]}, {"all[1]"}),
    (
        "deep-unknown-app",
        {"all": [{"any": [{"has_phone": True}, {"tag": "vip"}, {"app": "wxnope"}]}]},
        {"all[0].any[2]"},
    ),
    ("unknown-app", {"app": "wx0000000000000000"}, {"$"}),
    ("followed-mini-program", {"followed": MINI}, {"$"}),
    ("followed-h5", {"not": {"followed": H5}}, {"not"}),
    ("followed-unknown", {"followed": "wxnope"}, {"$"}),
    ("has-phone-not-bool", {"has_phone": "yes"}, {"$"}),
    ("unknown-field", {"field": "age", "op": "=", "value": 3}, {"$"}),
    ("time-op-on-number", {"field": "pay_count", "op": "within_days", "value": 3}, {"$"}),
    ("compare-on-time", {"field": "last_seen_at", "op": ">=", "value": 3}, {"$"}),
    ("bad-op", {"field": "pay_total", "op": "~", "value": 3}, {"$"}),
    ("text-op-on-channel", {"field": "first_channel", "op": "<", "value": "ad"}, {"$"}),
    ("number-value-text", {"field": "pay_count", "op": ">=", "value": "many"}, {"$"}),
    ("number-value-bool", {"field": "pay_count", "op": ">=", "value": True}, {"$"}),
    ("number-value-missing", {"field": "pay_count", "op": ">="}, {"$"}),
    ("channel-value-number", {"field": "first_channel", "op": "=", "value": 3}, {"$"}),
    ("days-0", {"field": "last_seen_at", "op": "within_days", "value": 0}, {"$"}),
    ("days-99999", {"field": "first_seen_at", "op": "older_than_days", "value": 99999}, {"$"}),
    ("days-float", {"field": "first_seen_at", "op": "older_than_days", "value": 1.5}, {"$"}),
    ("field-extra-key", {"field": "pay_count", "op": ">=", "value": 1, "x": 1}, {"$"}),
    ("event-unknown-type", {"event": "teleport", "within_days": 3, "min_count": 1}, {"$"}),
    ("event-days-0", {"event": "pay", "within_days": 0, "min_count": 1}, {"$"}),
    ("event-days-99999", {"event": "pay", "within_days": 99999, "min_count": 1}, {"$"}),
    ("event-days-missing", {"event": "pay", "min_count": 1}, {"$"}),
    (
        "event-min-gt-max",
        {"event": "pay", "within_days": 30, "min_count": 3, "max_count": 1},
        {"$"},
    ),
    ("event-no-bounds", {"event": "pay", "within_days": 30}, {"$"}),
    ("event-negative-min", {"event": "pay", "within_days": 30, "min_count": -1}, {"$"}),
    ("event-bool-max", {"event": "pay", "within_days": 30, "max_count": False}, {"$"}),
    ("depth-9-not", _nested_not(8), {".".join(["not"] * 8)}),
    ("depth-9-all", _nested_all(8), {".".join(["all[0]"] * 8)}),
    ("65-nodes", {"any": [{"has_phone": True}] * 64}, {"any[63]"}),
    (
        "several-errors",
        {"all": [{"tag": "nope"}, {"has_phone": True}, {"any": [{"app": "x"}]}, {"not": {}}]},
        {"all[0]", "all[2].any[0]", "all[3].not"},
    ),
    # values of the wrong JSON type are input errors, never crashes
    ("followed-list", {"followed": [SERVICE]}, {"$"}),
    ("event-type-list", {"event": ["pay"], "within_days": 3, "min_count": 1}, {"$"}),
    ("field-name-object", {"field": {"name": "pay_count"}, "op": "=", "value": 1}, {"$"}),
    ("tag-list", {"tag": ["vip"]}, {"$"}),
    ("app-list", {"app": [MINI]}, {"$"}),
]


@pytest.mark.parametrize(
    ("condition", "paths"),
    [case[1:] for case in INVALID_CASES],
    ids=[case[0] for case in INVALID_CASES],
)
def test_invalid_tree_names_the_bad_paths(miniprogram, service_account, h5, condition, paths):
    with pytest.raises(ConditionInvalid) as caught:
        validate(condition)
    assert set(caught.value.errors) == paths
    assert all(caught.value.errors[path] for path in paths)  # each path carries a message


def test_rule_tag_cannot_reference_itself():
    with pytest.raises(ConditionInvalid) as caught:
        validate({"any": [{"has_phone": True}, {"not": {"tag": "vip"}}]}, forbidden_tag="vip")
    assert set(caught.value.errors) == {"any[1].not"}
    assert "itself" in " ".join(caught.value.errors["any[1].not"])
    validate({"tag": "vip"}, forbidden_tag="repeat_buyer")  # another tag is fine


@pytest.mark.parametrize(
    "condition",
    [
        _nested_not(7),  # depth 8 is the limit
        _nested_all(7),
        {"any": [{"has_phone": True}] * 63},  # 64 nodes is the limit
        {"event": "pay", "within_days": 3650, "max_count": 0},
        {"field": "pay_total", "op": "<", "value": "12.50"},
        {"field": "first_channel", "op": "!=", "value": ""},
    ],
    ids=["depth-8-not", "depth-8-all", "64-nodes", "max-days", "decimal-text", "empty-channel"],
)
def test_trees_at_the_limits_are_valid(miniprogram, service_account, condition):
    validate(condition)
    assert matching_persons(condition).count() == 0  # compiles and runs


def test_describe_reads_the_design_example(miniprogram, service_account):
    tree = {
        "all": [
            {"tag": "vip"},
            {"not": {"tag": "churned"}},
            {"any": [{"followed": SERVICE}, {"has_phone": True}]},
            {"app": MINI},
            {"field": "pay_count", "op": ">=", "value": 2},
            {"field": "last_seen_at", "op": "older_than_days", "value": 30},
            {"event": "pay", "within_days": 30, "min_count": 1},
        ]
    }
    validate(tree)
    assert describe(tree) == (
        "has tag “vip” and not has tag “churned” and "
        f"(follows {SERVICE} or has a phone number) and uses app {MINI} and "
        "payments >= 2 and last seen more than 30 days ago and "
        "“pay” at least 1 time in the last 30 days"
    )


@pytest.mark.parametrize(
    ("condition", "text"),
    [
        ({"has_phone": False}, "has no phone number"),
        (
            {"field": "first_seen_at", "op": "within_days", "value": 7},
            "first seen within the last 7 days",
        ),
        (
            {"event": "pay", "within_days": 30, "max_count": 0},
            "“pay” at most 0 times in the last 30 days",
        ),
        (
            {"event": "login", "within_days": 7, "min_count": 2, "max_count": 5},
            "“login” 2 to 5 times in the last 7 days",
        ),
        (
            {"not": {"all": [{"app": MINI}, {"has_phone": True}]}},
            f"not (uses app {MINI} and has a phone number)",
        ),
        ("junk", "(invalid)"),
        ({"field": ["pay_count"], "op": "=", "value": 1}, None),
    ],
    ids=["no-phone", "time-field", "event-max", "event-between", "not-all", "junk", "field-list"],
)
def test_describe_renders_each_leaf(condition, text):
    """Readable text for each leaf; a malformed node reads "(invalid)" and never crashes."""
    rendered = describe(condition)
    assert isinstance(rendered, str)
    if text is not None:
        assert rendered == text
