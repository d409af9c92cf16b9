"""The reports over REST: answers on a small hand-built history, authorisation, every bad
parameter, save-as-tag, CSV, the statement time limit and a bound on queries.

The history (built relative to now, in whole local weeks W0, W1, W2 before this one):
- alice (mini-program, and a service-account openid): registers W0 Mon 12:00 (channel
  qr_store), logs in 13:00, views Tue, subscribes to the service account Thu, pays W1 Wed,
  views W2 Mon;
- bob (mini-program): registers W0 Wed 10:00, logs in W2 Tue 10:00;
- carol (mini-program): registers W1 Mon 12:00 (channel share_card), views W1 Tue;
- dave (H5 pages only): registers W0 Mon 12:00 (channel qr_store), logs in W1 Mon 12:00.
"""

import csv
import io
import json
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from django.db import connection
from django.utils import timezone

from analytics.periods import WEEK, local_date, local_midnight, period_start
from config.api.scopes import ANALYTICS_READ, TAGS_WRITE
from identity.models import App, AuditEntry, Person
from profiles.models import Tag, TagAssignment, TagKind
from profiles.services.ingest import ingest_events
from profiles.services.tags import assign_tags
from tests.factories import SYSTEM, PersonFactory, SegmentFactory, TagFactory

pytestmark = pytest.mark.django_db
BASE = "/api/v1/analytics"


@dataclass
class History:
    mini: App
    service: App
    h5: App
    w0: date
    alice: Person
    bob: Person
    carol: Person
    dave: Person

    def day(self, week: int, weekday: int = 0) -> str:
        return (self.w0 + timedelta(days=7 * week + weekday)).isoformat()

    @property
    def weeks(self) -> dict:
        """The range of the three weeks."""
        return {"from": self.day(0), "to": self.day(2, 6)}


def _event(number: int, app: App, openid: str, type_: str, day: date, hour: float, **extra):
    at = local_midnight(day) + timedelta(hours=hour)
    return {
        "event_id": f"api-{number}",
        "appid": app.appid,
        "openid": openid,
        "type": type_,
        "occurred_at": at.isoformat(),
        **extra,
    }


@pytest.fixture
def history(miniprogram, service_account, h5) -> History:
    w0 = period_start(local_date(timezone.now()), WEEK) - timedelta(days=21)
    persons = {
        "alice": PersonFactory(openids={miniprogram: "oAlice", service_account: "oAliceS"}),
        "bob": PersonFactory(openids={miniprogram: "oBob"}),
        "carol": PersonFactory(openids={miniprogram: "oCarol"}),
        "dave": PersonFactory(openids={h5: "oDave"}),
    }
    mini, svc = miniprogram, service_account
    rows = [
        (mini, "oAlice", "register", 0, 12, {"channel": "qr_store"}),
        (mini, "oAlice", "login", 0, 13, {}),
        (mini, "oAlice", "view", 1, 12, {}),
        (svc, "oAliceS", "subscribe", 3, 12, {}),
        (mini, "oAlice", "pay", 9, 12, {"amount": "9.90"}),
        (mini, "oAlice", "view", 14, 12, {}),
        (mini, "oBob", "register", 2, 10, {}),
        (mini, "oBob", "login", 15, 10, {}),
        (mini, "oCarol", "register", 7, 12, {"channel": "share_card"}),
        (mini, "oCarol", "view", 8, 12, {}),
        (h5, "oDave", "register", 0, 12, {"channel": "qr_store"}),
        (h5, "oDave", "login", 7, 12, {}),
    ]
    events = [
        _event(n, app, openid, type_, w0 + timedelta(days=days), hour, **extra)
        for n, (app, openid, type_, days, hour, extra) in enumerate(rows)
    ]
    result = ingest_events(events=events, actor=SYSTEM)
    assert result.accepted == len(events), result.errors
    return History(mini=mini, service=svc, h5=h5, w0=w0, **persons)


def _get(client, report: str, **query):
    return client.get(f"{BASE}/{report}", query)


def _ok(response) -> dict:
    assert response.status_code == 200, response.content
    return response.json()


def _bad(response, field: str, code: str = "invalid") -> dict:
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == code
    assert field in error["details"], error
    return error


# -- each report's answer ----------------------------------------------------------------------


def test_retention_counts_each_cohort_and_its_returns(api, history):
    body = _ok(_get(api, "retention", **history.weeks))

    assert body == {
        "period": "week",
        "mode": "first_time",
        "cumulative": False,
        "cohorts": [
            {"start": history.day(0), "size": 3, "values": [3, 2, 2]},
            {"start": history.day(1), "size": 1, "values": [1, 0]},
            {"start": history.day(2), "size": 0, "values": [0]},
        ],
    }


def test_retention_cumulative_and_app(api, history):
    body = _ok(_get(api, "retention", **history.weeks, cumulative="true", app=history.mini.appid))

    assert body["cumulative"] is True
    assert [cohort["values"] for cohort in body["cohorts"]] == [[2, 2, 2], [1, 0], [0]]


def test_retention_of_a_segment_counts_its_members_only(api, history):
    SegmentFactory(key="vips", condition={"tag": "vip"})
    for person in (history.alice, history.carol):
        assign_tags(person=person, keys=["vip"], actor=SYSTEM)

    body = _ok(_get(api, "retention", **history.weeks, segment="vips"))

    assert [cohort["values"] for cohort in body["cohorts"]] == [[1, 1, 1], [1, 0], [0]]


def test_funnel_counts_steps_conversions_and_median_times(api, history):
    body = _ok(_get(api, "funnel", **history.weeks, steps="register,login,pay"))

    assert body == {
        "window_days": 14,
        "steps": [
            {"type": "register", "count": 4, "conversion": 1.0, "from_previous": None,
             "median_seconds": None},
            {"type": "login", "count": 3, "conversion": 0.75, "from_previous": 0.75,
             "median_seconds": 7 * 86400},
            {"type": "pay", "count": 1, "conversion": 0.25, "from_previous": 0.3333,
             "median_seconds": 9 * 86400 - 3600},
        ],
    }  # fmt: skip


def test_lifecycle_sorts_the_active_and_the_dormant(api, history):
    body = _ok(_get(api, "lifecycle", **{"from": history.day(1), "to": history.day(2, 6)}))

    assert body == {
        "period": "week",
        "periods": [
            {"start": history.day(1), "new": 1, "returning": 2, "resurrecting": 0, "dormant": 1},
            {"start": history.day(2), "new": 0, "returning": 1, "resurrecting": 1, "dormant": 2},
        ],
    }


def test_active_users_per_day(api, history):
    body = _ok(_get(api, "active", **{"from": history.day(2), "to": history.day(2, 1)}))

    assert body == {
        "days": [
            {"date": history.day(2), "dau": 1, "wau": 2, "mau": 4, "stickiness": 0.25},
            {"date": history.day(2, 1), "dau": 1, "wau": 2, "mau": 4, "stickiness": 0.25},
        ]
    }


@pytest.mark.parametrize("by", ["first_channel", "app"])
def test_acquisition_counts_new_persons(api, history, by):
    body = _ok(_get(api, "acquisition", **history.weeks, period="week", by=by))

    mini, h5 = history.mini.appid, history.h5.appid
    expected = {
        "first_channel": [{"qr_store": 2, "": 1}, {"share_card": 1}, {}],
        "app": [{mini: 2, h5: 1}, {mini: 1}, {}],
    }[by]
    assert body["period"] == "week"
    assert body["by"] == by
    assert [period["start"] for period in body["periods"]] == [history.day(w) for w in range(3)]
    assert [period["total"] for period in body["periods"]] == [3, 1, 0]
    found = [{k: n for k, n in period["by"].items() if n} for period in body["periods"]]
    assert found == expected


def test_settle_rate_of_the_mini_program_visitors(api, history):
    query = {"miniprogram": history.mini.appid, "service_account": history.service.appid}
    body = _ok(_get(api, "settle", **history.weeks, **query))

    rows = [
        (p["visitors_total"], p["followers_among_visitors"], p["settle_rate"], p["new_visitors"],
         p["followed_within_7_days"], p["cohort_rate"])
        for p in body["periods"]
    ]  # fmt: skip
    assert [p["start"] for p in body["periods"]] == [history.day(w) for w in range(3)]
    assert rows == [(2, 1, 0.5, 2, 1, 0.5), (3, 1, 0.3333, 1, 0, 0.0), (3, 1, 0.3333, 0, 0, None)]


# -- scopes and restricted keys -------------------------------------------------------------


@pytest.mark.parametrize("report", ["retention", "active", "settle"])
def test_a_key_without_analytics_read_is_refused(make_client, history, report):
    client = make_client(scopes=[TAGS_WRITE])

    response = _get(client, report, **history.weeks)

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "scope_missing"


def test_a_restricted_key_sees_only_its_apps(make_client, history):
    client = make_client(scopes=[ANALYTICS_READ], apps=[history.mini.appid])

    retention = _ok(_get(client, "retention", **history.weeks))
    active = _ok(_get(client, "active", **{"from": history.day(2), "to": history.day(2)}))

    # dave, active only in the H5 pages, is counted nowhere
    assert [cohort["values"] for cohort in retention["cohorts"]] == [[2, 1, 2], [1, 0], [0]]
    assert active["days"][0]["mau"] == 3
    assert active["days"][0]["stickiness"] == 0.3333


def test_a_restricted_key_may_not_name_another_app(make_client, history):
    client = make_client(scopes=[ANALYTICS_READ], apps=[history.mini.appid])
    settle = {"miniprogram": history.mini.appid, "service_account": history.service.appid}

    other = _get(client, "retention", **history.weeks, app=history.h5.appid)
    outside = _get(client, "settle", **history.weeks, **settle)

    assert other.status_code == outside.status_code == 403
    assert other.json()["error"]["code"] == outside.json()["error"]["code"] == "app_forbidden"


# -- bad parameters: 400 naming the field, never a 404 or a 500 ----------------------------

DATES = {"from": "2026-01-05", "to": "2026-01-11"}
BAD_QUERIES = [
    ("retention", {"from": "2026-01-12", "to": "2026-01-11"}, "from"),
    ("active", {"from": "2025-01-01", "to": "2026-02-05"}, "from"),  # 401 days
    ("retention", {"from": "2025-01-01", "to": "2026-03-01", "period": "week"}, "from"),
    ("lifecycle", {"from": "2024-01-01", "to": "2026-01-01", "period": "month"}, "from"),
    ("acquisition", {"from": "1900-01-01", "to": "9998-12-31", "period": "day"}, "from"),
    ("active", {"from": "0001-01-01", "to": "0001-01-02"}, "from"),
    ("lifecycle", {"from": "9999-12-01", "to": "9999-12-31", "period": "month"}, "from"),
    ("retention", {**DATES, "start_event": "nope"}, "start_event"),
    ("retention", {**DATES, "return_event": "nope"}, "return_event"),
    ("lifecycle", {**DATES, "event": "nope"}, "event"),
    ("active", {**DATES, "event": ""}, "event"),
    ("funnel", {**DATES, "steps": "register,nope"}, "steps"),
    ("funnel", {**DATES, "steps": "register"}, "steps"),
    ("funnel", {**DATES, "steps": ",".join(["view"] * 9)}, "steps"),
    ("funnel", {**DATES, "steps": "register,,pay"}, "steps"),
    ("funnel", DATES, "steps"),
    ("funnel", {**DATES, "steps": "register,pay", "window_days": "0"}, "window_days"),
    ("funnel", {**DATES, "steps": "register,pay", "window_days": "91"}, "window_days"),
    ("funnel", {**DATES, "steps": "register,pay", "window_days": "two"}, "window_days"),
    ("retention", {**DATES, "period": "year"}, "period"),
    ("retention", {**DATES, "mode": "sometimes"}, "mode"),
    ("retention", {**DATES, "cumulative": "maybe"}, "cumulative"),
    ("acquisition", {**DATES, "by": "moon"}, "by"),
    ("retention", {"from": "2026-13-01", "to": "2026-12-31"}, "from"),
    ("retention", {"from": "2026-01-01", "to": "yesterday"}, "to"),
    ("retention", {"from": "20260101", "to": "2026-01-02"}, "from"),
    ("retention", {"to": "2026-01-02"}, "from"),
    ("lifecycle", {"from": "2026-01-01"}, "to"),
    ("retention", {**DATES, "segment": "nobody-has-this"}, "segment"),
    ("retention", {**DATES, "segment": "x" * 40}, "segment"),
    ("retention", {**DATES, "format": "xml"}, "format"),
    ("settle", {**DATES, "service_account": "wx2222222222222222"}, "miniprogram"),
    ("settle", {**DATES, "miniprogram": "wx1111111111111111"}, "service_account"),
]


@pytest.mark.parametrize(
    ("report", "query", "field"), BAD_QUERIES, ids=[f"{r}-{f}" for r, _, f in BAD_QUERIES]
)
def test_a_bad_parameter_is_a_400_naming_it(api, miniprogram, service_account, report, query,
                                            field):  # fmt: skip
    _bad(_get(api, report, **query), field)


@pytest.mark.parametrize("report", ["retention", "settle"])
def test_an_unknown_app_is_a_400_naming_it(api, miniprogram, service_account, report):
    if report == "settle":
        query = {"miniprogram": "wxUnknown0000000", "service_account": service_account.appid}
        field = "miniprogram"
    else:
        query, field = {"app": "wxUnknown0000000"}, "app"

    _bad(_get(api, report, **DATES, **query), field, code="unknown_app")


def test_unknown_query_parameters_are_ignored_as_elsewhere_in_the_api(api, history):
    plain = _ok(_get(api, "retention", **history.weeks))

    assert _ok(_get(api, "retention", **history.weeks, colour="blue")) == plain


# -- save-as-tag -------------------------------------------------------------------------------


def _save(client, report: str, body):
    return client.post(f"{BASE}/{report}/save-as-tag", body, format="json")


def _holders(key: str) -> set[int]:
    return set(TagAssignment.objects.filter(tag__key=key).values_list("person_id", flat=True))


def test_a_retention_cell_becomes_a_new_manual_tag(api, history):
    body = {**history.weeks, "cohort": history.day(0), "offset": 2, "tag": "w0-back",
            "name": "Back in week 2", "cumulative": False}  # fmt: skip

    answer = _ok(_save(api, "retention", body))

    assert answer == {"tag": "w0-back", "tagged": 2}
    tag = Tag.objects.get(key="w0-back")
    assert (tag.kind, tag.name, tag.group_id) == (TagKind.MANUAL, "Back in week 2", None)
    person = _ok(api.get(f"/api/v1/persons/{history.bob.public_id}"))
    # Rule tags left out: bob also holds a lifecycle stage (the ingest refreshes the rule tags of
    # its persons), "active" or "cooling" by how many days ago W2 Tue is, i.e. by today's weekday.
    assigned = [(t["key"], t["source"]) for t in person["tags"] if t["source"] != "rule"]
    assert assigned == [("w0-back", "api")]
    assert _holders("w0-back") == {history.alice.pk, history.bob.pk}


def test_values_may_come_as_text(api, history):
    body = {**history.weeks, "cohort": history.day(0), "offset": "1", "cumulative": "true",
            "tag": "w0-later"}  # fmt: skip

    assert _ok(_save(api, "retention", body)) == {"tag": "w0-later", "tagged": 3}


def test_the_count_includes_persons_who_held_the_tag(api, history):
    TagFactory(key="w0")
    assign_tags(person=history.alice, keys=["w0"], actor=SYSTEM)
    body = {**history.weeks, "cohort": history.day(0), "offset": 0, "tag": "w0"}

    assert _ok(_save(api, "retention", body)) == {"tag": "w0", "tagged": 3}
    assert _holders("w0") == {history.alice.pk, history.bob.pk, history.dave.pk}


def test_a_lifecycle_cell(api, history):
    body = {"from": history.day(1), "to": history.day(2, 6), "granularity": "week",
            "period": history.day(2), "state": "dormant", "tag": "lapsed"}  # fmt: skip

    assert _ok(_save(api, "lifecycle", body)) == {"tag": "lapsed", "tagged": 2}
    assert _holders("lapsed") == {history.carol.pk, history.dave.pk}


def test_a_funnel_cell_of_those_who_dropped(api, history):
    body = {**history.weeks, "steps": "register,login,pay", "step": 2, "dropped": True,
            "tag": "no-pay"}  # fmt: skip

    assert _ok(_save(api, "funnel", body)) == {"tag": "no-pay", "tagged": 2}
    assert _holders("no-pay") == {history.bob.pk, history.dave.pk}


def test_a_rule_tag_is_a_409(api, history):
    TagFactory(key="phone-owners", rule=True)
    body = {**history.weeks, "cohort": history.day(0), "offset": 0, "tag": "phone-owners"}

    response = _save(api, "retention", body)

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "rule_tag"
    assert _holders("phone-owners") == set()


BAD_BODIES = [
    ("retention", {"cohort": "W0+1", "offset": 0}, "cohort"),  # not a cohort's start
    ("retention", {"cohort": "W0", "offset": 3}, "offset"),  # beyond the triangle
    ("retention", {"cohort": "W0", "offset": -1}, "offset"),
    ("retention", {"cohort": "W0", "offset": 1.5}, "offset"),
    ("retention", {"cohort": "W0", "offset": True}, "offset"),
    ("retention", {"cohort": "W0", "offset": None}, "offset"),
    ("retention", {"cohort": "W0", "offset": [1]}, "offset"),
    ("retention", {"cohort": "W0", "offset": {"k": 1}}, "offset"),
    ("retention", {"cohort": "W0"}, "offset"),
    ("retention", {"cohort": 20260101, "offset": 0}, "cohort"),
    ("retention", {"cohort": "W0", "offset": 0, "cumulative": 1}, "cumulative"),
    ("retention", {"cohort": "W0", "offset": 0, "from": None}, "from"),
    ("retention", {"cohort": "W0", "offset": 0, "tag": "no spaces"}, "tag"),
    ("retention", {"cohort": "W0", "offset": 0, "tag": None}, "tag"),
    ("retention", {"cohort": "W0", "offset": 0, "name": None}, "name"),
    ("retention", {"cohort": "W0", "offset": 0, "name": "   "}, "name"),
    ("retention", {"cohort": "W0", "offset": 0, "name": "a\x00b"}, "name"),
    ("lifecycle", {"period": "week", "state": "dormant"}, "period"),
    ("lifecycle", {"period": "W0", "state": "asleep"}, "state"),
    ("funnel", {"steps": "register,login", "step": 9}, "step"),
    ("funnel", {"steps": "register,login", "step": 3}, "step"),
]


@pytest.mark.parametrize(
    ("report", "cell", "field"), BAD_BODIES, ids=[f"{r}-{f}" for r, _, f in BAD_BODIES]
)
def test_a_bad_body_is_a_400_naming_the_field(api, history, report, cell, field):
    cell = {k: history.day(0, 1) if v == "W0+1" else history.day(0) if v == "W0" else v
            for k, v in cell.items()}  # fmt: skip
    body = {**history.weeks, "tag": "cell", **cell}

    _bad(_save(api, report, body), field)
    assert not Tag.objects.filter(key="cell").exists()


@pytest.mark.parametrize("field", ["app", "segment", "start_event", "tag", "name"])
def test_text_postgresql_cannot_store_is_a_400_naming_the_field(api, history, field):
    body = {**history.weeks, "cohort": history.day(0), "offset": 0, "tag": "cell"}
    raw = json.dumps({**body, field: "x"}).replace('"x"', '"x\\udfff"')

    response = api.post(f"{BASE}/retention/save-as-tag", raw, content_type="application/json")

    _bad(response, field)


def test_a_body_that_is_not_an_object_is_a_400(api, history):
    _bad(_save(api, "retention", [history.weeks]), "non_field_errors")


def test_save_as_tag_needs_both_scopes(make_client, history):
    body = {**history.weeks, "cohort": history.day(0), "offset": 0, "tag": "both"}
    read_only, write_only = make_client(scopes=[ANALYTICS_READ]), make_client(scopes=[TAGS_WRITE])

    missing_write = _save(read_only, "retention", body)
    missing_read = _save(write_only, "retention", body)

    assert missing_write.status_code == missing_read.status_code == 403
    assert missing_write.json()["error"]["code"] == "scope_missing"
    assert "tag" in missing_write.json()["error"]["details"]
    assert missing_read.json()["error"]["code"] == "scope_missing"
    assert not Tag.objects.filter(key="both").exists()


def test_a_restricted_key_tags_only_its_apps_cells(make_client, history):
    client = make_client(scopes=[ANALYTICS_READ, TAGS_WRITE], apps=[history.mini.appid])
    body = {**history.weeks, "cohort": history.day(0), "offset": 0, "tag": "mine"}

    other = _save(client, "retention", {**body, "app": history.h5.appid})
    mine = _save(client, "retention", body)

    assert other.status_code == 403
    assert other.json()["error"]["code"] == "app_forbidden"
    assert _ok(mine) == {"tag": "mine", "tagged": 2}
    assert _holders("mine") == {history.alice.pk, history.bob.pk}


def test_a_restricted_key_tags_only_persons_with_an_identity_in_its_apps(make_client, history):
    # An unrestricted key names dave (H5 pages only) in a mini-program event: no identity there.
    event = _event(99, history.mini, "", "register", history.w0 + timedelta(days=1), 12)
    del event["openid"]
    event["person_id"] = history.dave.public_id
    assert ingest_events(events=[event], actor=SYSTEM).accepted == 1
    client = make_client(scopes=[ANALYTICS_READ, TAGS_WRITE], apps=[history.mini.appid])
    body = {**history.weeks, "cohort": history.day(0), "offset": 0}

    counted = _ok(_get(client, "retention", **history.weeks))["cohorts"][0]["size"]
    mine = _save(client, "retention", {**body, "tag": "mine"})
    everyone = _save(make_client(), "retention", {**body, "app": history.mini.appid, "tag": "all"})

    assert counted == 3  # the report confines events by app: dave's counts
    assert _ok(mine) == {"tag": "mine", "tagged": 2}  # the key does not see dave
    assert _holders("mine") == {history.alice.pk, history.bob.pk}
    assert _ok(everyone)["tagged"] == 3
    audit = AuditEntry.objects.get(action="tag.assign_set", target="mine").after
    assert (audit["visible_app_ids"], audit["persons"]) == ([history.mini.pk], 2)


def test_the_audit_entry_holds_the_reports_parameters(api, history):
    SegmentFactory(key="vips", condition={"tag": "vip"})
    assign_tags(person=history.alice, keys=["vip"], actor=SYSTEM)
    retention = {**history.weeks, "cohort": history.day(0), "offset": 1, "tag": "w0-vip",
                 "app": history.mini.appid, "segment": "vips", "return_event": "view",
                 "cumulative": True, "mode": "recurring"}  # fmt: skip
    funnel = {**history.weeks, "steps": "register,any,pay", "window_days": 30, "step": 2,
              "dropped": True, "tag": "no-pay"}  # fmt: skip

    _ok(_save(api, "retention", retention))
    _ok(_save(api, "funnel", funnel))

    audits = {a.target: a.after for a in AuditEntry.objects.filter(action="tag.assign_set")}
    assert audits["w0-vip"] == {
        "report": "retention",
        "params": {
            "from": history.day(0),
            "to": history.day(2, 6),
            "period": "week",
            "app_ids": [history.mini.pk],
            "segment": "vips",
            "start_event": "register",
            "return_event": "view",
            "mode": "recurring",
            "cumulative": True,
        },
        "cell": {"cohort": history.day(0), "offset": "1"},
        "visible_app_ids": None,
        "persons": 1,
        "tagged": 1,
    }
    params = audits["no-pay"]["params"]
    assert (params["steps"], params["window_days"], params["app_ids"]) == (
        ["register", "any", "pay"],
        30,
        None,
    )
    assert params["segment"] is None
    assert audits["no-pay"]["cell"] == {"step": "2", "dropped": "True"}


# -- CSV ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("report", "extra", "header"),
    [
        ("retention", {}, "cohort,size,period_1,period_2"),
        ("funnel", {"steps": "register,login"}, "step,type,count"),
        ("lifecycle", {}, "start,new,returning,resurrecting,dormant"),
        ("active", {}, "date,dau,wau,mau,stickiness"),
        ("acquisition", {"period": "week"},
         "start,total,channel:,channel:qr_store,channel:share_card"),
        ("settle", {"miniprogram": "wx1111111111111111", "service_account": "wx2222222222222222"},
         "start,visitors_total"),
    ],
)  # fmt: skip
def test_csv_answers(api, history, report, extra, header):
    response = _get(api, report, **history.weeks, **extra, format="csv")

    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    name = f"{report}-{history.day(0)}-{history.day(2, 6)}.csv"
    assert response["Content-Disposition"] == f'attachment; filename="{name}"'
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeff" + header)
    assert len(text.strip().splitlines()) > 1


def test_acquisition_csv_columns_are_prefixed_and_a_formula_channel_is_inert(api, history):
    channels = ['=HYPERLINK("http://x","y")', "total", "start", "(none)"]
    events = [
        {**_event(100 + n, history.h5, f"oNew{n}", "register", history.w0, 9), "channel": c}
        for n, c in enumerate(channels)
    ]
    assert ingest_events(events=events, actor=SYSTEM).accepted == len(events)

    by_channel = _get(api, "acquisition", **history.weeks, period="week", format="csv")
    by_app = _get(api, "acquisition", **history.weeks, period="week", by="app", format="csv")

    header, first, *_ = csv.reader(io.StringIO(by_channel.content.decode("utf-8-sig")))
    assert header == [
        "start",
        "total",
        "channel:",  # bob's: none
        "channel:(none)",
        'channel:=HYPERLINK("http://x","y")',
        "channel:qr_store",
        "channel:share_card",
        "channel:start",
        "channel:total",
    ]
    assert first == [history.day(0), "7", "1", "1", "1", "2", "0", "1", "1"]
    assert not [cell for cell in header + first if cell.startswith(("=", "+", "-", "@"))]
    app_header = next(csv.reader(io.StringIO(by_app.content.decode("utf-8-sig"))))
    assert app_header == ["start", "total", f"app:{history.mini.appid}", f"app:{history.h5.appid}"]


def test_a_bad_csv_request_answers_its_error_in_json(api, history):
    response = _get(api, "retention", **history.weeks, period="year", format="csv")

    assert response["Content-Type"] == "application/json"
    _bad(response, "period")


# -- cost: a statement time limit and few queries ----------------------------------------------


@pytest.mark.pg_timers
def test_a_report_stopped_by_the_time_limit_is_a_503(api, settings, activity_locked):
    settings.ANALYTICS_STATEMENT_TIMEOUT_MS = 50

    response = _get(api, "active", **DATES)

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "report_timeout"
    with connection.cursor() as cursor:  # the test's own transaction keeps its timeout
        cursor.execute("SELECT current_setting('statement_timeout')")
        assert cursor.fetchone()[0] != "50ms"


QUERY_CASES = {
    "retention": {},
    "funnel": {"steps": "register,login,pay"},
    "lifecycle": {},
    "active": {},
    "acquisition": {},
    "settle": {"miniprogram": "wx1111111111111111", "service_account": "wx2222222222222222"},
}


@pytest.mark.parametrize("report", QUERY_CASES)
def test_a_report_runs_a_few_queries(api, history, django_assert_max_num_queries, report):
    api.get("/api/v1/tags")  # the key's first last-used write is not the report's
    with django_assert_max_num_queries(12):
        _ok(_get(api, report, **history.weeks, **QUERY_CASES[report]))


@pytest.mark.parametrize(
    ("report", "cell"),
    [
        ("retention", {"cohort": "W0", "offset": 1}),
        ("lifecycle", {"period": "W0", "state": "new"}),
        ("funnel", {"steps": "register,login", "step": 1, "dropped": True}),
    ],
)
def test_save_as_tag_runs_a_few_queries(api, history, django_assert_max_num_queries, report,
                                        cell):  # fmt: skip
    cell = {k: history.day(0) if v == "W0" else v for k, v in cell.items()}
    api.get("/api/v1/tags")
    with django_assert_max_num_queries(20):
        _ok(_save(api, report, {**history.weeks, **cell, "tag": "counted"}))
