"""Conditions that cannot hurt: hostile numbers and text are refused with the path of their node,
and a condition that cannot be evaluated (stored before the bounds, or too slow) breaks neither
event ingestion nor the segment listings.

Conditions are written as JSON text here, as the admin's box and a JSON body carry them: Python's
decoder reads `1e999999` as infinity and accepts `NaN`, `Infinity`, `\\u0000` and a lone
`\\ud800`, none of which PostgreSQL can store or compare.
"""

import json
import logging
from datetime import timedelta
from decimal import Decimal

import psycopg
import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from identity.exceptions import InvalidInput
from identity.services.resolve import resolve_identity
from profiles.conditions import ConditionInvalid, validate
from profiles.models import PersonStats, Segment, SegmentSnapshot, Tag, TagAssignment, TagKind
from profiles.services.definitions import save_segment, save_tag
from profiles.services.rules import refresh_rule_tags
from profiles.services.segments import count_segments, snapshot_segments
from tests.factories import SegmentFactory, TagFactory

pytestmark = pytest.mark.django_db

MINI = "wx1111111111111111"
BUYER = "oHostileBuyer"

# (id, leaf as JSON text, words the message must hold). Each leaf sits at `all[1]`; every one
# passed validation before the bounds.
BAD_LEAVES = [
    ("total-json-1e999999", '{"field": "pay_total", "op": ">", "value": 1e999999}', "finite"),
    ("total-string-1e999999", '{"field": "pay_total", "op": ">", "value": "1e999999"}', "amount"),
    ("total-string-1e400000", '{"field": "pay_total", "op": ">=", "value": "1e400000"}', "amount"),
    ("total-nan", '{"field": "pay_total", "op": "=", "value": NaN}', "finite"),
    ("total-infinity", '{"field": "pay_total", "op": "<", "value": Infinity}', "finite"),
    ("total-15-digits", '{"field": "pay_total", "op": ">", "value": 100000000000000}', "amount"),
    ("total-float-1e20", '{"field": "pay_total", "op": ">", "value": 1e20}', "amount"),
    ("total-three-places", '{"field": "pay_total", "op": ">", "value": "0.001"}', "amount"),
    ("count-json-1e999999", '{"field": "pay_count", "op": ">", "value": 1e999999}', "finite"),
    ("count-string-1e999999", '{"field": "pay_count", "op": ">", "value": "1e999999"}', "whole"),
    ("count-minus-infinity", '{"field": "pay_count", "op": ">", "value": -Infinity}', "finite"),
    ("count-1e20", '{"field": "pay_count", "op": ">=", "value": 100000000000000000000}', "whole"),
    ("count-negative", '{"field": "pay_count", "op": ">=", "value": -1}', "whole"),
    ("count-fraction", '{"field": "pay_count", "op": ">=", "value": 1.5}', "whole"),
    ("events-int4-overflow", '{"field": "event_count", "op": ">", "value": 2147483648}', "whole"),
    (
        "min-count-1e20",
        '{"event": "pay", "within_days": 30, "min_count": 100000000000000000000}',
        "min_count",
    ),
    (
        "max-count-int4-overflow",
        '{"event": "pay", "within_days": 30, "max_count": 2147483648}',
        "max_count",
    ),
    ("channel-nul", '{"field": "first_channel", "op": "=", "value": "a\\u0000"}', "NUL"),
    ("channel-surrogate", '{"field": "first_channel", "op": "=", "value": "\\ud800"}', "surrogate"),
    ("channel-too-long", '{"field": "first_channel", "op": "=", "value": "%s"}' % ("x" * 65), "64"),
]


def in_tree(leaf: str) -> str:
    return '{"all": [{"has_phone": true}, ' + leaf + "]}"


def messages_at(messages, path: str) -> str:
    """The messages of the node at `path`, checking that no other node was blamed."""
    prefix = f"{path}: "
    assert messages, "no error"
    assert all(str(message).startswith(prefix) for message in messages), messages
    return " ".join(str(message) for message in messages)


@pytest.fixture
def app(miniprogram):
    return miniprogram


# --- validation: the service and the admin refuse each bad value, naming its node -------------


@pytest.mark.parametrize(
    ("leaf", "words"), [case[1:] for case in BAD_LEAVES], ids=[case[0] for case in BAD_LEAVES]
)
def test_validation_names_the_node_of_each_bad_value(app, actor, leaf, words):
    condition = json.loads(in_tree(leaf))

    with pytest.raises(ConditionInvalid) as invalid:
        validate(condition)
    assert list(invalid.value.errors) == ["all[1]"]

    with pytest.raises(InvalidInput) as segment_error:
        save_segment(segment=Segment(key="bad", name="Bad", condition=condition), actor=actor)
    assert words in messages_at(segment_error.value.details["condition"], "all[1]")

    rule = Tag(key="bad", name="Bad", kind=TagKind.RULE, condition=condition)
    with pytest.raises(InvalidInput) as tag_error:
        save_tag(tag=rule, actor=actor)
    assert words in messages_at(tag_error.value.details["condition"], "all[1]")
    assert not Segment.objects.filter(key="bad").exists()
    assert not Tag.objects.filter(key="bad").exists()


def test_a_deeper_bad_value_is_named_by_its_full_path(app):
    condition = json.loads(
        '{"any": [{"app": "wx1111111111111111"}, {"not": {"all": [{"has_phone": false}, '
        '{"field": "pay_total", "op": ">", "value": NaN}]}}]}'
    )

    with pytest.raises(ConditionInvalid) as invalid:
        validate(condition)

    assert list(invalid.value.errors) == ["any[1].not.all[1]"]


def admin_url(model, view: str, *args) -> str:
    opts = model._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_{view}", args=args)


def admin_form(model, text: str) -> dict:
    form = {"key": "bad", "name": "Bad", "condition": text}
    return {**form, "kind": "rule"} if model is Tag else form


def condition_errors(response) -> list[str]:
    assert response.status_code == 200
    return response.context["adminform"].form.errors.get("condition", [])


@pytest.mark.parametrize("model", [Segment, Tag])
@pytest.mark.parametrize(
    ("leaf", "words"), [case[1:] for case in BAD_LEAVES], ids=[case[0] for case in BAD_LEAVES]
)
def test_the_admin_form_refuses_each_bad_value_with_its_path(admin_client, app, model, leaf, words):
    response = admin_client.post(admin_url(model, "add"), admin_form(model, in_tree(leaf)))

    assert words in messages_at(condition_errors(response), "all[1]")
    assert not model.objects.filter(key="bad").exists()


@pytest.mark.parametrize("model", [Segment, Tag])
@pytest.mark.parametrize(
    ("text", "path"),
    [('{"tag": "\\udfff"}', "$"), ('{"any": [{"not": {"app": "\\ud800x"}}]}', "any[0].not")],
    ids=["surrogate-tag", "surrogate-appid"],
)
def test_the_admin_form_shows_unstorable_text_as_an_error(admin_client, app, model, text, path):
    """The error page echoes the input and reads the condition as text: neither may fail."""
    response = admin_client.post(admin_url(model, "add"), admin_form(model, text))

    messages_at(condition_errors(response), path)
    assert not model.objects.filter(key="bad").exists()


@pytest.mark.parametrize("model", [Segment, Tag])
@pytest.mark.parametrize(
    "text",
    ['{"field": "pay_count", "op": ">", "value": ' + "9" * 5000 + "}", "[" * 100_000],
    ids=["5000-digit-number", "nested-100000-deep"],
)
def test_the_admin_form_refuses_json_python_cannot_read(admin_client, app, model, text):
    response = admin_client.post(admin_url(model, "add"), admin_form(model, text))

    assert condition_errors(response) == ["Enter a valid JSON."]
    assert not model.objects.filter(key="bad").exists()


# --- conditions stored before the bounds ----------------------------------------------------

# Each would fail in PostgreSQL or in Python if it reached the compiler.
STORED_BROKEN = {
    "huge_total": {"field": "pay_total", "op": ">", "value": "1e999999"},
    "slow_total": {"field": "pay_total", "op": ">", "value": "1e400000"},
    "wide_total": {"field": "pay_total", "op": ">", "value": 10**300},
    "huge_count": {"field": "pay_count", "op": ">=", "value": 10**20},
    "many_pays": {"event": "pay", "within_days": 30, "min_count": 10**20},
}


def store_rule_tags(conditions: dict) -> None:
    """Write rule tags straight to the table, as a condition saved before the bounds sits."""
    for key, condition in conditions.items():
        TagFactory(key=key, name=key, rule=True, condition=condition)


def pay_events(count: int, *, prefix: str) -> list[dict]:
    now = timezone.now()
    return [
        {
            "event_id": f"{prefix}-{n}",
            "appid": MINI,
            "openid": BUYER,
            "type": "pay",
            "amount": "20.00",
            "occurred_at": (now - timedelta(hours=n + 1)).isoformat(),
        }
        for n in range(count)
    ]


def holders(key: str) -> set[str]:
    rows = TagAssignment.objects.filter(tag__key=key)
    return set(rows.values_list("person__identities__openid", flat=True))


def test_ingest_answers_200_and_records_the_failure_on_each_broken_rule_tag(api, app, caplog):
    store_rule_tags(STORED_BROKEN)

    with caplog.at_level(logging.WARNING):
        response = api.post("/api/v1/events", {"events": pay_events(2, prefix="p")}, format="json")

    assert response.status_code == 200
    assert response.json()["accepted"] == 2
    for tag in Tag.objects.filter(key__in=STORED_BROKEN):
        assert tag.last_refresh_failed_at is not None, tag.key
        assert "condition is invalid" in tag.last_refresh_error, tag.key
    assert BUYER in holders("repeat_buyer")  # the other rule tags were refreshed
    for key in STORED_BROKEN:
        assert key in caplog.text
    assert BUYER not in caplog.text


def test_a_later_successful_refresh_clears_the_recorded_failure(api, app):
    store_rule_tags({"huge_count": STORED_BROKEN["huge_count"]})
    api.post("/api/v1/events", {"events": pay_events(1, prefix="a")}, format="json")
    assert Tag.objects.get(key="huge_count").last_refresh_error

    Tag.objects.filter(key="huge_count").update(
        condition={"field": "pay_count", "op": ">=", "value": 2}
    )
    response = api.post("/api/v1/events", {"events": pay_events(2, prefix="b")}, format="json")

    assert response.status_code == 200
    tag = Tag.objects.get(key="huge_count")
    assert (tag.last_refresh_error, tag.last_refresh_failed_at) == ("", None)
    assert BUYER in holders("huge_count")


def test_a_full_refresh_failure_stays_until_a_full_refresh_succeeds(api, app, actor):
    """An ingest refreshes a rule tag for its few persons only: that it succeeds says nothing of
    the refresh of everyone that timed out, so the admin keeps showing that failure."""
    store_rule_tags({"two_pays": {"field": "pay_count", "op": ">=", "value": 2}})
    timed_out = "Stopped by the statement timeout (30000 ms) or by an operator."
    Tag.objects.filter(key="two_pays").update(
        last_refresh_error=timed_out,
        last_refresh_failed_at=timezone.now(),
        last_refresh_failure_full=True,
    )

    api.post("/api/v1/events", {"events": pay_events(2, prefix="s")}, format="json")

    tag = Tag.objects.get(key="two_pays")
    assert BUYER in holders("two_pays")  # the scoped refresh itself ran
    assert tag.last_refresh_error == timed_out
    refresh_rule_tags(actor=actor, keys=["two_pays"])
    tag.refresh_from_db()
    assert (tag.last_refresh_error, tag.last_refresh_failed_at) == ("", None)
    assert tag.last_refresh_failure_full is False


def test_a_full_refresh_refreshes_the_sound_tags_and_reports_the_broken(app, actor):
    resolve_identity(app=app, openid=BUYER, actor=actor)
    store_rule_tags({"huge_total": STORED_BROKEN["huge_total"]})
    TagFactory(key="mini", name="Mini", rule=True, condition={"app": MINI})

    results = {result.tag: result for result in refresh_rule_tags(actor=actor)}

    assert results["huge_total"].failed
    assert (results["mini"].failed, results["mini"].added) == (False, 1)
    assert Tag.objects.get(key="mini").last_refreshed_at is not None


def test_the_refresh_command_refreshes_the_others_and_exits_with_an_error(app, actor, capsys):
    resolve_identity(app=app, openid=BUYER, actor=actor)
    store_rule_tags({"huge_total": STORED_BROKEN["huge_total"]})
    TagFactory(key="mini", name="Mini", rule=True, condition={"app": MINI})

    with pytest.raises(CommandError, match="huge_total"):
        call_command("refresh_rule_tags")

    assert BUYER in holders("mini")
    assert "huge_total: failed" in capsys.readouterr().out


def test_the_admin_shows_the_refresh_failure_and_refresh_now_reports_it(admin_client, app, actor):
    store_rule_tags({"many_pays": STORED_BROKEN["many_pays"]})
    tag = Tag.objects.get(key="many_pays")

    response = admin_client.post(
        admin_url(Tag, "changelist"),
        {"action": "refresh_now", ACTION_CHECKBOX_NAME: [tag.pk]},
        follow=True,
    )

    assert response.status_code == 200
    shown = [str(message) for message in response.context["messages"]]
    assert any("many_pays could not be refreshed" in message for message in shown), shown
    listing = admin_client.get(admin_url(Tag, "changelist"))
    assert 'class="refresh-failed"' in listing.content.decode()
    page = admin_client.get(admin_url(Tag, "change", tag.pk))
    assert page.status_code == 200
    assert "The condition is invalid" in page.content.decode()


def store_segments(conditions: dict) -> None:
    for key, condition in conditions.items():
        SegmentFactory(key=key.replace("_", "-"), name=key, condition=condition)


def test_a_broken_stored_segment_has_no_count_and_the_others_still_count(api, app, actor):
    resolve_identity(app=app, openid=BUYER, actor=actor)
    store_segments(STORED_BROKEN)
    SegmentFactory(key="mini", name="Mini", condition={"app": MINI})

    listing = api.get("/api/v1/segments")
    detail = api.get("/api/v1/segments/huge-total")
    members = api.get("/api/v1/segments/huge-total/members")

    assert listing.status_code == 200
    counts = {segment["key"]: segment["count"] for segment in listing.json()["results"]}
    assert counts == {"mini": 1, **{key.replace("_", "-"): None for key in STORED_BROKEN}}
    assert (detail.status_code, detail.json()["count"]) == (200, None)
    assert members.status_code == 409
    assert "condition" in members.json()["error"]["details"]


def test_the_admin_segment_pages_mark_a_count_that_failed(admin_client, app, actor):
    resolve_identity(app=app, openid=BUYER, actor=actor)
    store_segments(STORED_BROKEN)
    SegmentFactory(key="mini", name="Mini", condition={"app": MINI})

    listing = admin_client.get(admin_url(Segment, "changelist"))
    page = admin_client.get(admin_url(Segment, "change", Segment.objects.get(key="many-pays").pk))
    persons = admin_client.get(reverse("admin:identity_person_changelist") + "?segment=huge-total")

    assert listing.status_code == 200
    counts = {segment.key: segment.live_members for segment in listing.context["cl"].result_list}
    assert counts["mini"] == 1
    assert listing.content.decode().count('class="count-failed"') == len(STORED_BROKEN)
    assert page.status_code == 200
    assert 'class="count-failed"' in page.content.decode()
    assert persons.status_code == 200
    assert list(persons.context["cl"].result_list) == []


def test_the_daily_snapshot_skips_a_segment_whose_count_failed(app, actor):
    resolve_identity(app=app, openid=BUYER, actor=actor)
    store_segments({"huge_total": STORED_BROKEN["huge_total"]})
    SegmentFactory(key="mini", name="Mini", condition={"app": MINI})

    snapshots = snapshot_segments()

    assert [(snapshot.segment.key, snapshot.count) for snapshot in snapshots] == [("mini", 1)]
    assert SegmentSnapshot.objects.count() == 1


# --- the statement timeout ------------------------------------------------------------------


@pytest.fixture
def stats_locked():
    """Hold an exclusive lock on the stats table from a second connection.

    A condition over stats then waits for the lock until its statement timeout cancels it: a
    statement that is slow for certain, whatever the machine. This connection gives up after
    5 s (lock_timeout) rather than hang the suite, which the assertions tell apart.
    """
    params = connection.settings_dict
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('lock_timeout', '5s', false)")
    side = psycopg.connect(
        dbname=params["NAME"],
        user=params["USER"],
        password=params["PASSWORD"] or None,
        host=params["HOST"] or None,
        port=params["PORT"] or None,
    )
    try:
        side.execute("SET lock_timeout = '5s'")
        side.execute("LOCK TABLE profiles_personstats IN ACCESS EXCLUSIVE MODE")
        yield
    finally:
        side.rollback()
        side.close()


@pytest.mark.pg_timers
def test_a_count_stopped_by_the_statement_timeout_is_null(api, app, settings, stats_locked):
    settings.CONDITION_STATEMENT_TIMEOUT_MS = 50
    paying = SegmentFactory(
        key="paying", name="Paying", condition={"field": "pay_count", "op": ">=", "value": 1}
    )
    SegmentFactory(key="mini", name="Mini", condition={"has_phone": False})

    response = api.get("/api/v1/segments")

    assert response.status_code == 200
    counts = {segment["key"]: segment["count"] for segment in response.json()["results"]}
    assert counts == {"paying": None, "mini": 0}
    assert count_segments([paying]) == {paying.pk: None}
    # SET LOCAL outlives a released savepoint: the enclosing transaction (the test's) got its
    # own timeout back.
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('statement_timeout')")
        assert cursor.fetchone()[0] != "50ms"


@pytest.mark.pg_timers
def test_slow_segments_share_one_more_timeout_between_them(settings, stats_locked):
    """After the combined count timed out, the recounts share one timeout's worth of time: the
    first slow segment spends it, the next is not even sent, the fast one still counts."""
    settings.CONDITION_STATEMENT_TIMEOUT_MS = 300
    fast = SegmentFactory(key="fast", name="Fast", condition={"has_phone": True})
    slow = [
        SegmentFactory(
            key=f"slow{n}", name="Slow", condition={"field": "pay_count", "op": ">=", "value": n}
        )
        for n in (1, 2)
    ]

    with CaptureQueriesContext(connection) as queries:
        counts = count_segments([fast, *slow])

    assert counts == {fast.pk: 0, slow[0].pk: None, slow[1].pk: None}
    sent = [q["sql"] for q in queries.captured_queries if "count(*)" in q["sql"]]
    assert len(sent) == 3  # all three together, then the fast one, then the first slow one


@pytest.mark.pg_timers
def test_a_refresh_stopped_by_the_statement_timeout_is_recorded(app, actor, settings, stats_locked):
    settings.CONDITION_STATEMENT_TIMEOUT_MS = 50
    store_rule_tags({"payers": {"field": "pay_count", "op": ">=", "value": 1}})
    TagFactory(key="mini", name="Mini", rule=True, condition={"app": MINI})
    # seen=False: marking the buyer seen writes its stats row, which stats_locked holds locked;
    # the buyer is only someone for "mini" to find, the refresh is what is under test.
    resolve_identity(app=app, openid=BUYER, actor=actor, seen=False)

    results = {r.tag: r for r in refresh_rule_tags(actor=actor, keys=["payers", "mini"])}

    assert results["payers"].failed
    assert "statement timeout" in Tag.objects.get(key="payers").last_refresh_error
    assert (results["mini"].failed, results["mini"].added) == (False, 1)


def test_the_bounds_are_those_the_stats_columns_hold(app):
    field = PersonStats._meta.get_field("pay_total")
    largest = Decimal(10) ** (field.max_digits - field.decimal_places) - Decimal("0.01")
    validate(
        {
            "all": [
                {"field": "pay_total", "op": "<=", "value": str(largest)},
                {"field": "pay_total", "op": ">", "value": str(-largest)},
                {"field": "pay_total", "op": ">", "value": 12.5},
                {"field": "pay_count", "op": "<=", "value": 2147483647},
                {"field": "event_count", "op": ">=", "value": "0"},
                {"event": "pay", "within_days": 3650, "min_count": 0, "max_count": 2147483647},
                {"field": "first_channel", "op": "=", "value": "x" * 64},
            ]
        }
    )

    with pytest.raises(ConditionInvalid) as invalid:
        validate({"field": "pay_total", "op": "<=", "value": str(largest + Decimal("0.01"))})
    assert list(invalid.value.errors) == ["$"]
