"""The condition builder's server side: its vocabulary, the widget on the tag and segment forms,
the located errors it shows, and "reads as" / "growth" never printing Python's None."""

import json
import re

import pytest
from django.urls import reverse
from django.utils import translation

from profiles.admin.condition_builder import vocabulary
from profiles.conditions import ConditionInvalid, check_shape, describe
from profiles.conditions.grammar import COMPARISONS, FIELDS, LEAVES, TIME_FIELDS, TIME_OPS
from profiles.conditions.labels import FIELD_LABELS, OPERATOR_LABELS
from profiles.conditions.validation import path_parts
from profiles.models import Segment, Tag
from tests.factories import EventTypeFactory, SegmentFactory, TagFactory

pytestmark = pytest.mark.django_db

SEGMENT_ADD = reverse("admin:profiles_segment_add")


def page_vocabulary(html: str) -> dict:
    found = re.search(
        r'<script id="id_condition_vocabulary" type="application/json">(.*?)</script>', html, re.S
    )
    assert found, "the vocabulary is on the page"
    return json.loads(found[1])


def values(choices: list[dict]) -> list[str]:
    return [choice["value"] for choice in choices]


# --- the vocabulary -------------------------------------------------------------------------


def test_the_vocabulary_names_what_a_condition_may_hold(miniprogram, service_account, h5):
    EventTypeFactory(key="tea_tasting", name="Tea tasting")
    TagFactory(key="tea", name="Tea lovers")

    words = vocabulary()

    assert values(words["kinds"]) == list(LEAVES)
    assert values(words["fields"]) == list(FIELDS)
    types = {field["value"]: field["type"] for field in words["fields"]}
    assert types["pay_count"] == "count"
    assert types["pay_total"] == "amount"
    assert {field for field, kind in types.items() if kind == "time"} == set(TIME_FIELDS)
    assert types["first_channel"] == "text"
    assert values(words["operators"]["count"]) == list(COMPARISONS)
    assert values(words["operators"]["time"]) == list(TIME_OPS)
    assert values(words["operators"]["text"]) == ["=", "!="]
    apps = {app["value"]: app for app in words["apps"]}
    assert set(apps) == {miniprogram.appid, service_account.appid, h5.appid}
    assert [appid for appid, app in apps.items() if app["service_account"]] == [
        service_account.appid
    ]
    assert apps[service_account.appid]["label"] == f"Service account ({service_account.appid})"
    assert {"value": "tea", "label": "Tea lovers (tea)"} in words["tags"]
    assert {"value": "tea_tasting", "label": "Tea tasting (tea_tasting)"} in words["event_types"]
    assert words["limits"]["max_days"] == 3650


def test_the_vocabulary_is_in_the_staff_language(db):
    with translation.override("zh-hans"):
        words = vocabulary()
        expected = str(FIELD_LABELS["pay_count"])

    labels = {field["value"]: field["label"] for field in words["fields"]}
    assert labels["pay_count"] == expected == "支付次数"
    assert "%(count)s" in words["messages"]["match_other"]


def test_every_field_and_operator_of_the_grammar_has_a_label():
    assert set(FIELD_LABELS) == set(FIELDS)
    assert set(OPERATOR_LABELS) == set(COMPARISONS) | set(TIME_OPS)


# --- the widget -----------------------------------------------------------------------------


def test_the_segment_form_carries_the_builder_above_the_json_box(admin_client, service_account):
    html = admin_client.get(SEGMENT_ADD).content.decode()

    assert 'class="condition-builder"' in html
    assert f'data-count-url="{reverse("admin:profiles_condition_count")}"' in html
    assert 'data-textarea="id_condition"' in html
    assert "profiles/condition_builder.js" in html
    assert "profiles/condition_builder.css" in html
    assert re.search(r'<textarea name="condition"[^>]*id="id_condition"', html)
    assert service_account.appid in values(page_vocabulary(html)["apps"])


def test_a_rule_tag_page_tells_the_builder_its_own_key(admin_client):
    tag = TagFactory(key="phone_owners", rule=True)

    html = admin_client.get(reverse("admin:profiles_tag_change", args=[tag.pk])).content.decode()

    assert 'data-forbidden-tag="phone_owners"' in html
    assert "&quot;has_phone&quot;: true" in html  # the JSON box still holds the condition


def test_without_javascript_the_json_box_still_saves(admin_client):
    form = {"key": "phones", "name": "Phones", "condition": '{"has_phone": true}'}

    response = admin_client.post(SEGMENT_ADD, form)

    assert response.status_code == 302
    assert Segment.objects.get(key="phones").condition == {"has_phone": True}


# --- "reads as" and "growth" ----------------------------------------------------------------


def readonly(html: str, field: str) -> str:
    found = re.search(rf'field-{field}.*?<div class="readonly">(.*?)</div>', html, re.S)
    assert found, field
    return found[1].strip()


def test_a_manual_tag_reads_as_a_dash(admin_client):
    tag = TagFactory(key="tea")

    html = admin_client.get(reverse("admin:profiles_tag_change", args=[tag.pk])).content.decode()

    assert readonly(html, "reads_as") == "-"


def test_a_segment_without_snapshots_says_so(admin_client):
    segment = SegmentFactory(key="fresh", condition={"field": "pay_count", "op": ">="})

    html = admin_client.get(
        reverse("admin:profiles_segment_change", args=[segment.pk]),
        headers={"accept-language": "en"},
    ).content.decode()

    assert readonly(html, "growth").startswith("No snapshot yet")
    assert readonly(html, "reads_as") == "payments &gt;= ?"
    assert "None" not in readonly(html, "reads_as")


@pytest.mark.parametrize(
    ("condition", "text"),
    [
        ({"field": "pay_count", "op": ">="}, "payments >= ?"),
        ({"field": "last_seen_at", "op": "within_days"}, "last seen within the last ? days"),
        ({"event": "pay", "within_days": 30}, "“pay” any number of times in the last 30 days"),
        ({"event": "pay", "min_count": 1}, "“pay” at least 1 time in the last ? days"),
        ({"tag": None}, "has tag “?”"),
        ({"all": []}, "(invalid)"),
        ({"has_phone": None}, "has no phone number"),
    ],
)
def test_a_missing_value_never_reads_as_none(condition, text):
    with translation.override("en"):
        assert describe(condition) == text


def test_reads_as_is_translated():
    with translation.override("zh-hans"):
        text = describe({"all": [{"field": "pay_count", "op": ">=", "value": 2}, {"tag": "vip"}]})

    assert "支付次数" in text
    assert "有标签" in text


# --- errors located at their nodes ----------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "parts"),
    [
        ("$", []),
        ("", []),
        ("all", ["all"]),
        ("all[2]", ["all", 2]),
        ("all[2].any[0].not", ["all", 2, "any", 0, "not"]),
    ],
)
def test_a_path_splits_into_keys_and_indexes(path, parts):
    assert path_parts(path) == parts


def test_located_errors_name_the_bad_value_of_a_leaf():
    condition = {
        "any": [
            {"field": "pay_total", "op": "~", "value": 1},
            {"not": {"event": "pay", "within_days": 7, "min_count": 3, "max_count": 1}},
            {"has_phone": "yes"},
        ]
    }

    with pytest.raises(ConditionInvalid) as caught:
        check_shape(condition)

    assert [path for path, _ in caught.value.located] == [
        ["any", 0, "op"],
        ["any", 1, "not", "min_count"],
        ["any", 2, "has_phone"],
    ]
    # The paths callers already read are unchanged.
    assert set(caught.value.errors) == {"any[0]", "any[1].not", "any[2]"}


def test_an_error_built_from_paths_alone_is_located_too():
    error = ConditionInvalid({"all[1]": ["Bad."]})

    assert error.located == [(["all", 1], "Bad.")]


def test_the_preset_tags_stay_readable(db):
    with translation.override("en"):
        assert describe(Tag.objects.get(key="repeat_buyer").condition) == "payments >= 2"
