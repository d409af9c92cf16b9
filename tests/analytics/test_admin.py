"""The admin's Reports area: the six report pages (form, chart, table, CSV), their errors,
saving a cell as a tag, permissions, Chinese, and no resource from the internet."""

import csv
import io
import json
import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission, User
from django.db import DatabaseError
from django.test import Client
from django.urls import reverse

from analytics.admin.tables import build_table
from analytics.params import REPORTS
from analytics.periods import local_date, period_start
from identity.services.resolve import resolve_identity
from profiles.models import Tag, TagAssignment
from profiles.services.ingest import ingest_events
from tests.clock import ago
from tests.factories import TagFactory

pytestmark = pytest.mark.django_db

LIST = reverse("admin:analytics_report_changelist")
PERSONS = reverse("admin:identity_person_changelist")


def page(report: str) -> str:
    return reverse(f"admin:analytics_report_{report}")


def csv_url(report: str) -> str:
    return reverse(f"admin:analytics_report_{report}_csv")


def save_url(report: str) -> str:
    return reverse(f"admin:analytics_report_{report}_save")


def staff(client, *codenames: str) -> User:
    user = User.objects.create_user("analyst", password="pw-analyst-1", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    client.force_login(user)
    return user


def figure(response) -> dict:
    html = response.content.decode()
    found = re.search(r'<script id="report-figure" type="application/json">(.*?)</script>', html)
    assert found, "no figure on the page"
    return json.loads(found.group(1))


def errors(response, field: str) -> list[str]:
    assert response.status_code == 200
    return response.context["form"].errors.get(field, [])


def shown_messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


class Shop:
    """Alice, Bob and Carol register in the mini-program five hours ago; Alice and Bob log in,
    Alice views, pays and follows the service account (one person across both apps)."""

    def __init__(self, miniprogram, service_account, actor):
        self.start = ago(hours=5)
        resolve_identity(app=miniprogram, openid="oAlice", unionid="uAlice", actor=actor)
        resolve_identity(app=service_account, openid="oAliceSvc", unionid="uAlice", actor=actor)
        steps = [
            ("oAlice", miniprogram, ["register", "login", "view", "pay"]),
            ("oBob", miniprogram, ["register", "login"]),
            ("oCarol", miniprogram, ["register"]),
            ("oAliceSvc", service_account, [None, None, None, None, "subscribe"]),
        ]
        events = []
        for openid, app, types in steps:
            for hour, type_ in enumerate(types):
                if type_ is None:
                    continue
                event = {
                    "event_id": f"{openid}-{hour}",
                    "appid": app.appid,
                    "openid": openid,
                    "type": type_,
                    "occurred_at": (self.start + timedelta(hours=hour)).isoformat(),
                }
                if type_ == "pay":
                    event["amount"] = "9.90"
                events.append(event)
        assert ingest_events(events=events, actor=actor).errors == []
        self.week = str(period_start(local_date(self.start), "week"))


@pytest.fixture
def shop(miniprogram, service_account, actor):
    return Shop(miniprogram, service_account, actor)


# The pages


@pytest.mark.parametrize("report", REPORTS)
def test_each_report_page_shows_its_form_chart_table_and_csv_link(admin_client, shop, report):
    response = admin_client.get(page(report), headers={"accept-language": "en"})

    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="report-params"' in html
    assert 'id="report-chart"' in html
    assert 'id="report-table"' in html
    assert 'id="report-failed"' not in html
    drawn = figure(response)
    assert drawn["data"], "the figure has traces"
    assert f'id="report-csv" class="button" href="{csv_url(report)}?' in html
    assert reverse("admin:analytics_plotly_js") in html


def test_the_reports_list_links_every_report_and_the_index_lists_the_area(admin_client):
    listing = admin_client.get(LIST, headers={"accept-language": "en"}).content.decode()
    index = admin_client.get(reverse("admin:index"), headers={"accept-language": "en"})

    for report in REPORTS:
        assert f'href="{page(report)}"' in listing
    assert "Reports" in index.content.decode()
    assert LIST in index.content.decode()


def test_retention_defaults_to_twelve_weeks_of_register_cohorts(admin_client, shop):
    response = admin_client.get(page("retention"))

    heat_map = figure(response)["data"][0]
    assert heat_map["type"] == "heatmap"
    assert len(heat_map["y"]) == 12
    assert heat_map["y"][-1] == str(period_start(local_date(ago()), "week"))
    cohort = heat_map["y"].index(shop.week)
    assert heat_map["text"][cohort][0] == "3"  # Alice, Bob and Carol registered
    assert heat_map["z"][cohort][0] == 1


def test_funnel_defaults_to_the_builtin_steps_over_thirty_days(admin_client, shop):
    response = admin_client.get(page("funnel"))

    form = response.context["form"]
    assert form.api_params()["steps"] == "register,login,view,pay"
    assert form.api_params()["from"] == str(local_date(ago()) - timedelta(days=29))
    reached, dropped = figure(response)["data"]
    assert reached["y"] == [3, 2, 1, 1]
    assert dropped["y"] == [1, 1, 0]


def test_lifecycle_draws_dormant_below_the_axis(admin_client, shop):
    response = admin_client.get(page("lifecycle"), headers={"accept-language": "en"})

    traces = {trace["name"]: trace for trace in figure(response)["data"]}
    week = traces["new"]["x"].index(shop.week)
    assert traces["new"]["y"][week] == 3
    assert all(value <= 0 for value in traces["dormant"]["y"])


def test_settle_defaults_to_the_first_miniprogram_and_service_account(
    admin_client, shop, miniprogram, service_account
):
    response = admin_client.get(page("settle"))

    params = response.context["form"].api_params()
    assert (params["miniprogram"], params["service_account"]) == (
        miniprogram.appid,
        service_account.appid,
    )
    stock, _ = figure(response)["data"]
    assert stock["y"][-1] == pytest.approx(1 / 3, abs=1e-4)  # Alice of the three visitors


def test_funnel_steps_in_the_api_form_fill_the_step_selects(admin_client, shop):
    response = admin_client.get(page("funnel"), {"steps": "register,pay", "window_days": "3"})

    form = response.context["form"]
    assert (form["step_1"].value(), form["step_2"].value(), form["step_3"].value()) == (
        "register",
        "pay",
        None,
    )
    assert figure(response)["data"][0]["y"] == [3, 1]


# Errors are shown in the form


@pytest.mark.parametrize(
    ("report", "query", "field"),
    [
        ("retention", {"from": "2026-13-01"}, "from"),
        ("retention", {"from": "2026-10-02", "to": "2026-10-01"}, "from"),
        ("retention", {"period": "day", "from": "2020-01-01", "to": "2026-01-01"}, "from"),
        ("retention", {"start_event": "no_such_type"}, "start_event"),
        ("lifecycle", {"period": "year"}, "period"),
        ("active", {"app": "wxnosuchapp"}, "app"),
        ("active", {"segment": "nobody"}, "segment"),
        ("funnel", {"step_1": "register", "step_2": ""}, "step_1"),
        ("funnel", {"window_days": "400"}, "window_days"),
        ("acquisition", {"by": "weather"}, "by"),
        ("settle", {"miniprogram": ""}, "miniprogram"),
        ("settle", {"service_account": "wxnosuchapp"}, "service_account"),
    ],
)
def test_bad_parameters_are_form_errors_not_server_errors(admin_client, shop, report, query, field):
    response = admin_client.get(page(report), query)

    assert errors(response, field)
    assert 'id="report-chart"' not in response.content.decode()
    assert 'class="errorlist' in response.content.decode()


def test_a_report_that_fails_leaves_the_page_usable(admin_client, shop, monkeypatch):
    def broken(params):
        raise RuntimeError("boom")

    monkeypatch.setattr("analytics.reports.active.compute", broken)

    response = admin_client.get(page("active"), headers={"accept-language": "en"})

    assert response.status_code == 200
    assert 'id="report-failed"' in response.content.decode()
    assert 'id="report-params"' in response.content.decode()


# CSV


def test_csv_download_has_the_reports_rows_for_the_same_parameters(admin_client, shop):
    query = {"from": shop.week, "to": str(local_date(ago())), "period": "week"}

    response = admin_client.get(csv_url("lifecycle"), query)

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="lifecycle-')
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0] == ["start", "new", "returning", "resurrecting", "dormant"]
    assert rows[1][:2] == [shop.week, "3"]


def test_csv_with_bad_parameters_goes_back_to_the_page_and_its_errors(admin_client, shop):
    response = admin_client.get(csv_url("retention"), {"from": "yesterday"})

    assert response.status_code == 302
    assert response["Location"].startswith(page("retention") + "?")
    assert errors(admin_client.get(response["Location"]), "from")


# Save a cell as a tag


def test_saving_a_retention_cell_tags_its_persons_and_links_to_them(admin_client, shop):
    query = {"from": shop.week, "to": str(local_date(ago())), "period": "week"}
    url = f"{save_url('retention')}?from={query['from']}&to={query['to']}&period=week"
    cell = json.dumps({"cohort": shop.week, "offset": "0"})

    response = admin_client.post(url, {"cell": cell, "tag": "cohort-new", "name": "New cohort"})

    assert response.status_code == 302
    assert response["Location"].startswith(page("retention") + "?")
    assert TagAssignment.objects.filter(tag__key="cohort-new").count() == 3
    followed = admin_client.get(response["Location"], headers={"accept-language": "en"})
    assert shown_messages(followed) == [
        f'3 persons tagged with <a href="{PERSONS}?tag=cohort-new">cohort-new</a>.'
    ]
    assert f'href="{PERSONS}?tag=cohort-new"' in followed.content.decode()


def test_saving_a_funnel_drop_off_tags_those_who_stopped(admin_client, shop):
    cell = json.dumps({"step": 1, "dropped": True})

    admin_client.post(
        f"{save_url('funnel')}?steps=register,login", {"cell": cell, "tag": "stopped"}
    )

    holders = TagAssignment.objects.filter(tag__key="stopped")
    assert [a.person.identities.get().openid for a in holders] == ["oCarol"]


def test_saving_a_lifecycle_cell(admin_client, shop):
    cell = json.dumps({"period": shop.week, "state": "new"})

    response = admin_client.post(save_url("lifecycle"), {"cell": cell, "tag": "new-this-week"})

    assert response.status_code == 302
    assert TagAssignment.objects.filter(tag__key="new-this-week").count() == 3


@pytest.mark.parametrize(
    ("cell", "tag"),
    [
        ("", "fine-key"),  # no cell chosen
        ("not json", "fine-key"),
        (json.dumps({"cohort": "2026-02-30", "offset": 1}), "fine-key"),
        (json.dumps({"cohort": "2026-09-07", "offset": 1}), "not a slug"),
        (json.dumps({"cohort": "2026-09-07", "offset": 1}), "rule-tag"),
    ],
)
def test_a_refused_save_is_an_error_message_and_tags_nobody(admin_client, shop, cell, tag):
    TagFactory(key="rule-tag", rule=True)

    response = admin_client.post(save_url("retention"), {"cell": cell, "tag": tag}, follow=True)

    assert response.status_code == 200
    assert len(shown_messages(response)) == 1
    assert response.context["messages"]._loaded_messages[0].level_tag == "error"
    assert not TagAssignment.objects.filter(tag__key__in=["fine-key", "rule-tag"]).exists()


@pytest.mark.pg_timers
def test_a_save_stopped_by_the_time_limit_is_an_error_message(
    admin_client, settings, activity_locked
):
    settings.ANALYTICS_STATEMENT_TIMEOUT_MS = 50
    url = f"{save_url('retention')}?from=2026-01-05&to=2026-01-18&period=week"
    cell = json.dumps({"cohort": "2026-01-05", "offset": "1"})

    response = admin_client.post(
        url, {"cell": cell, "tag": "slow"}, follow=True, headers={"accept-language": "en"}
    )

    assert response.status_code == 200
    assert shown_messages(response) == [
        "The report took too long and was stopped: choose a shorter range or try again."
    ]
    assert response.context["messages"]._loaded_messages[0].level_tag == "error"
    assert not Tag.objects.filter(key="slow").exists()  # the new tag went with the rest


def test_a_database_error_while_saving_is_an_error_message_naming_no_value(
    admin_client, shop, monkeypatch, caplog
):
    def broken(**kwargs):
        raise DatabaseError('value "oAlice" is not allowed')

    monkeypatch.setattr("analytics.admin.reports.save_cell_as_tag", broken)
    cell = json.dumps({"cohort": shop.week, "offset": "0"})

    response = admin_client.post(
        save_url("retention"), {"cell": cell, "tag": "cohort"}, follow=True,
        headers={"accept-language": "en"},
    )  # fmt: skip

    assert response.status_code == 200
    assert shown_messages(response) == [
        "The cell could not be saved as a tag: nobody was tagged. Try again later."
    ]
    assert "DatabaseError" in caplog.text
    assert "oAlice" not in caplog.text


def test_a_save_without_the_csrf_token_is_refused(shop):
    client = Client(enforce_csrf_checks=True)
    client.force_login(User.objects.create_superuser("boss", password="pw-boss-1"))
    cell = json.dumps({"cohort": shop.week, "offset": "0"})

    refused = client.post(save_url("retention"), {"cell": cell, "tag": "forged"})
    client.get(page("retention"))  # sets the CSRF cookie, as the page does for its form
    token = client.cookies["csrftoken"].value
    accepted = client.post(
        save_url("retention"), {"cell": cell, "tag": "mine", "csrfmiddlewaretoken": token}
    )

    assert refused.status_code == 403
    assert not Tag.objects.filter(key="forged").exists()
    assert accepted.status_code == 302
    assert TagAssignment.objects.filter(tag__key="mine").count() == 3


def test_saving_needs_a_post(admin_client, shop):
    assert admin_client.get(save_url("retention")).status_code == 405


# Permissions


def test_staff_without_the_view_permission_get_403(client, shop):
    staff(client)

    assert client.get(LIST).status_code == 403
    assert client.get(page("retention")).status_code == 403
    assert client.get(csv_url("retention")).status_code == 403
    cell = json.dumps({"cohort": shop.week, "offset": 0})
    assert client.post(save_url("retention"), {"cell": cell, "tag": "x"}).status_code == 403


def test_viewing_without_the_save_permission_hides_the_form_and_refuses_the_post(client, shop):
    staff(client, "view_report")

    response = client.get(page("retention"))
    cell = json.dumps({"cohort": shop.week, "offset": 0})
    refused = client.post(save_url("retention"), {"cell": cell, "tag": "cohort"})

    assert response.status_code == 200
    assert 'id="save-cell-form"' not in response.content.decode()
    assert refused.status_code == 403
    assert not TagAssignment.objects.filter(tag__key="cohort").exists()


def test_the_save_permission_shows_the_form_with_its_stable_fields(client, shop):
    staff(client, "view_report", "save_report_cell")

    html = client.get(page("lifecycle")).content.decode()

    assert 'id="save-cell-form"' in html
    for name in ('name="cell"', 'name="tag"', 'name="name"', 'id="save-cell-submit"'):
        assert name in html
    assert 'class="cell-pick" data-cell=' in html
    assert 'name="csrfmiddlewaretoken"' in html


def test_reports_without_cells_have_no_save_form(admin_client, shop):
    html = admin_client.get(page("active")).content.decode()

    assert 'id="save-cell-form"' not in html


# Languages and resources


def test_the_pages_speak_chinese(admin_client, shop):
    response = admin_client.get(page("lifecycle"), headers={"accept-language": "zh-hans"})
    index = admin_client.get(reverse("admin:index"), headers={"accept-language": "zh-hans"})

    html = response.content.decode()
    assert "生命周期" in html  # the report's title
    assert "下载 CSV" in html
    assert [trace["name"] for trace in figure(response)["data"]] == [
        "新用户",
        "回访用户",
        "回流用户",
        "沉睡用户",
    ]
    assert "报表" in index.content.decode()  # the app list entry
    english = admin_client.get(page("lifecycle"), headers={"accept-language": "en"})
    assert "Download CSV" in english.content.decode()


@pytest.mark.parametrize("report", REPORTS)
def test_pages_load_nothing_from_the_internet(admin_client, shop, report):
    html = admin_client.get(page(report)).content.decode()
    index = admin_client.get(reverse("admin:index")).content.decode()

    for text in (html, index):
        for url in re.findall(r'(?:src|href)\s*=\s*["\']([^"\']*)', text):
            assert not re.match(r"^(?:[a-z][a-z0-9+.-]*:)?//", url, re.I), url


def test_plotly_js_comes_from_the_pinned_package_with_long_cache_headers(admin_client):
    plain = admin_client.get(reverse("admin:analytics_plotly_js"))
    gzipped = admin_client.get(
        reverse("admin:analytics_plotly_js"), headers={"accept-encoding": "gzip, br"}
    )

    assert plain.status_code == 200
    assert plain["Content-Type"].startswith("text/javascript")
    assert "immutable" in plain["Cache-Control"]
    assert "max-age=31536000" in plain["Cache-Control"]
    assert b"plotly.js v" in plain.content[:1000]
    assert gzipped["Content-Encoding"] == "gzip"
    assert len(gzipped.content) < len(plain.content) / 2


# The tables under the charts


def test_the_funnel_table_adds_the_drop_off_column_and_its_cells():
    answer = {
        "window_days": 14,
        "steps": [
            {"type": "register", "count": 10, "conversion": 1.0, "from_previous": None,
             "median_seconds": None},
            {"type": "pay", "count": 4, "conversion": 0.4, "from_previous": 0.4,
             "median_seconds": 5400},
        ],
    }  # fmt: skip

    table = build_table("funnel", answer)

    assert [cell.value for cell in table.rows[0]] == [
        "1",
        "register",
        "10",
        "100.0%",
        "—",
        "—",
        "6",
    ]
    assert table.rows[1][5].value == "90 min"
    assert json.loads(table.rows[0][6].pick)["cell"] == {"step": "1", "dropped": "true"}
    assert json.loads(table.rows[1][2].pick)["cell"] == {"step": "2", "dropped": "false"}
    assert table.rows[1][6].pick == ""  # nothing after the last step


def test_the_retention_table_is_a_triangle_whose_numbers_are_cells():
    answer = {
        "period": "week",
        "mode": "first_time",
        "cumulative": False,
        "cohorts": [
            {"start": "2026-09-07", "size": 5, "values": [5, 2]},
            {"start": "2026-09-14", "size": 3, "values": [3]},
        ],
    }

    table = build_table("retention", answer)

    assert table.header[2] == "+1"
    assert [cell.value for cell in table.rows[1]] == ["2026-09-14", "3", ""]
    assert json.loads(table.rows[0][2].pick)["cell"] == {"cohort": "2026-09-07", "offset": "1"}
    assert json.loads(table.rows[1][1].pick)["count"] == 3
