import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from identity.admin.person_extensions import person_admin_extensions
from identity.exceptions import Conflict, InvalidInput
from identity.models import AuditEntry, Identity, Person
from identity.services.resolve import resolve_identity
from profiles.admin.events import EstimatedCountPaginator
from profiles.admin.persons import PERSON_ADMIN_EXTENSION
from profiles.models import Event, EventType
from profiles.services.event_types import (
    delete_event_type,
    register_event_type,
    update_event_type,
)
from profiles.services.ingest import ingest_events

pytestmark = pytest.mark.django_db


def url(model, view: str, *args) -> str:
    opts = model._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_{view}", args=args)


def ingest(actor, *events) -> None:
    result = ingest_events(events=list(events), actor=actor)
    assert result.errors == []


def make_event(appid: str, event_id: str, **fields) -> dict:
    return {
        "event_id": event_id,
        "appid": appid,
        "openid": "oUser1",
        "type": "view",
        "occurred_at": "2026-11-01T10:00:00+08:00",
        **fields,
    }


def listed(response) -> set[str]:
    assert response.status_code == 200
    return {event.event_id for event in response.context["cl"].result_list}


@pytest.fixture
def events(miniprogram, service_account, actor):
    """A pay and a view in the mini-program (2026-11), a login in the service account (2026-10)."""
    ingest(
        actor,
        make_event(
            miniprogram.appid,
            "e1",
            type="pay",
            amount="12.50",
            channel="qr_store",
            occurred_at="2026-11-01T10:00:00+08:00",
        ),
        make_event(miniprogram.appid, "e2", type="view", occurred_at="2026-11-02T10:00:00+08:00"),
        make_event(
            service_account.appid,
            "e3",
            openid="oSvc1",
            type="login",
            occurred_at="2026-10-15T10:00:00+08:00",
        ),
    )
    return Identity.objects.get(openid="oUser1").person


@pytest.fixture
def custom_type(actor):
    return register_event_type(key="trial_start", name="Start a trial", actor=actor)


# Event types


@pytest.mark.parametrize("view", ["changelist", "add"])
def test_event_type_list_and_add_pages_render(admin_client, custom_type, view):
    response = admin_client.get(url(EventType, view))

    assert response.status_code == 200


@pytest.mark.parametrize("key", ["pay", "trial_start"])
def test_event_type_change_pages_render(admin_client, custom_type, key):
    response = admin_client.get(url(EventType, "change", key))

    assert response.status_code == 200


def test_adding_a_type_in_the_admin_registers_it_with_an_audit_entry(admin_client):
    form = {"key": "coupon_share", "name": "Share a coupon", "description": "From the H5."}

    response = admin_client.post(url(EventType, "add"), form)

    assert response.status_code == 302
    event_type = EventType.objects.get(key="coupon_share")
    assert (event_type.name, event_type.builtin, event_type.is_active) == (
        "Share a coupon",
        False,
        True,
    )
    entry = AuditEntry.objects.get(action="event_type.create", target="coupon_share")
    assert (entry.actor_type, entry.actor) == ("admin", "admin")
    assert entry.after["name"] == "Share a coupon"


@pytest.mark.parametrize("key", ["pay", "not a slug", ""])
def test_adding_a_taken_or_bad_key_is_a_form_error(admin_client, key):
    response = admin_client.post(url(EventType, "add"), {"key": key, "name": "Anything"})

    assert response.status_code == 200
    assert "key" in response.context["adminform"].form.errors
    assert not AuditEntry.objects.filter(action="event_type.create").exists()


def test_editing_a_type_goes_through_the_service_and_keeps_the_key(admin_client):
    form = {"key": "paid", "name": "Pay an order", "description": "", "is_active": ""}

    response = admin_client.post(url(EventType, "change", "pay"), form)

    assert response.status_code == 302
    pay = EventType.objects.get(key="pay")
    assert (pay.name, pay.is_active, pay.builtin) == ("Pay an order", False, True)
    assert not EventType.objects.filter(key="paid").exists()
    entry = AuditEntry.objects.get(action="event_type.update", target="pay")
    assert entry.before == {"name": "Pay", "description": "", "is_active": True}
    assert entry.after == {"name": "Pay an order", "description": "", "is_active": False}


def test_built_in_type_cannot_be_deleted_and_its_key_is_read_only(admin_client):
    request = admin_client.get("/").wsgi_request
    model_admin = admin.site._registry[EventType]
    pay = EventType.objects.get(key="pay")

    assert not model_admin.has_delete_permission(request, pay)
    assert "key" in model_admin.get_readonly_fields(request, pay)
    assert admin_client.post(url(EventType, "delete", "pay"), {"post": "yes"}).status_code == 403
    assert EventType.objects.filter(key="pay").exists()


def test_bulk_delete_refuses_built_in_types(admin_client):
    form = {"action": "delete_selected", "_selected_action": ["share"], "post": "yes"}

    response = admin_client.post(url(EventType, "changelist"), form)

    assert response.status_code == 403
    assert EventType.objects.filter(key="share").exists()


def test_deleting_a_type_with_events_shows_the_protected_page(
    admin_client, miniprogram, custom_type, actor
):
    ingest(actor, make_event(miniprogram.appid, "t1", type="trial_start"))
    delete_url = url(EventType, "delete", "trial_start")

    page = admin_client.get(delete_url)
    posted = admin_client.post(delete_url, {"post": "yes"})

    assert page.status_code == 200
    assert page.context["protected"]
    assert "trial_start" in page.content.decode()
    assert posted.status_code == 200
    assert EventType.objects.filter(key="trial_start").exists()
    assert not AuditEntry.objects.filter(action="event_type.delete").exists()


def test_deleting_an_unused_type_goes_through_the_service(admin_client, custom_type):
    response = admin_client.post(url(EventType, "delete", "trial_start"), {"post": "yes"})

    assert response.status_code == 302
    assert not EventType.objects.filter(key="trial_start").exists()
    entry = AuditEntry.objects.get(action="event_type.delete", target="trial_start")
    assert entry.actor == "admin"


# Services behind the event type admin


def test_register_rejects_a_bad_key_and_a_blank_name(actor):
    with pytest.raises(InvalidInput) as caught:
        register_event_type(key="no spaces", name=" ", actor=actor)

    assert set(caught.value.details) == {"key", "name"}


def test_register_refuses_an_existing_key(actor):
    with pytest.raises(Conflict):
        register_event_type(key="pay", name="Again", actor=actor)

    assert EventType.objects.get(key="pay").name == "Pay"


def test_update_keeps_key_and_builtin_flag(actor):
    pay = EventType.objects.get(key="pay")
    pay.builtin = False  # an unsaved change the service must not write

    updated = update_event_type(
        event_type=pay, name="Pay", description="Orders", is_active=True, actor=actor
    )

    assert updated.builtin is True
    assert EventType.objects.get(key="pay").description == "Orders"


def test_delete_refuses_built_in_and_used_types(miniprogram, custom_type, actor):
    ingest(actor, make_event(miniprogram.appid, "t1", type="trial_start"))

    with pytest.raises(Conflict):
        delete_event_type(event_type=EventType.objects.get(key="share"), actor=actor)
    with pytest.raises(Conflict):
        delete_event_type(event_type=custom_type, actor=actor)

    assert EventType.objects.filter(key__in=["share", "trial_start"]).count() == 2


# Events


def test_event_changelist_renders_unfiltered(admin_client, events):
    assert listed(admin_client.get(url(Event, "changelist"))) == {"e1", "e2", "e3"}


def test_event_changelist_filters_by_type(admin_client, events):
    response = admin_client.get(url(Event, "changelist"), {"type__key__exact": "pay"})

    assert listed(response) == {"e1"}


def test_event_changelist_filters_by_app(admin_client, events, service_account):
    response = admin_client.get(url(Event, "changelist"), {"app__id__exact": service_account.pk})

    assert listed(response) == {"e3"}


def test_event_changelist_drills_down_by_date(admin_client, events):
    changelist = url(Event, "changelist")

    year = admin_client.get(changelist, {"occurred_at__year": 2026})
    month = admin_client.get(changelist, {"occurred_at__year": 2026, "occurred_at__month": 11})
    day = admin_client.get(
        changelist,
        {"occurred_at__year": 2026, "occurred_at__month": 11, "occurred_at__day": 2},
    )

    assert listed(year) == {"e1", "e2", "e3"}
    assert listed(month) == {"e1", "e2"}
    assert listed(day) == {"e2"}


def test_event_changelist_combines_filters(admin_client, events, miniprogram):
    response = admin_client.get(
        url(Event, "changelist"),
        {"type__key__exact": "view", "app__id__exact": miniprogram.pk, "occurred_at__year": 2026},
    )

    assert listed(response) == {"e2"}


def test_event_changelist_has_no_search_box(admin_client, events):
    response = admin_client.get(url(Event, "changelist"))

    assert admin.site._registry[Event].search_fields == ()
    assert response.context["cl"].search_fields == ()
    assert 'id="searchbar"' not in response.content.decode()


def test_event_change_page_renders(admin_client, events):
    event = Event.objects.get(event_id="e1")

    response = admin_client.get(url(Event, "change", event.pk))

    assert response.status_code == 200
    assert "qr_store" in response.content.decode()


def test_events_are_read_only(admin_client, events):
    event = Event.objects.get(event_id="e1")

    assert admin_client.get(url(Event, "add")).status_code == 403
    assert admin_client.post(url(Event, "delete", event.pk), {"post": "yes"}).status_code == 403
    assert admin_client.post(url(Event, "change", event.pk), {"channel": "x"}).status_code == 403
    assert Event.objects.get(pk=event.pk).channel == "qr_store"


def test_unfiltered_big_table_is_counted_from_the_estimate(events, monkeypatch):
    monkeypatch.setattr(EstimatedCountPaginator, "exact_below", 1)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE profiles_event")
        cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE relname = 'profiles_event'")
        (estimate,) = cursor.fetchone()
    assert estimate >= 1  # ANALYZE saw the three rows

    with CaptureQueriesContext(connection) as queries:
        count = EstimatedCountPaginator(Event.objects.order_by("-id"), 100).count

    assert count == estimate
    assert not any("COUNT(" in query["sql"].upper() for query in queries.captured_queries)


def test_filtered_or_small_tables_are_counted_exactly(events, monkeypatch):
    assert EstimatedCountPaginator(Event.objects.order_by("-id"), 100).count == 3

    monkeypatch.setattr(EstimatedCountPaginator, "exact_below", 1)
    filtered = Event.objects.filter(type_id="pay").order_by("-id")

    assert EstimatedCountPaginator(filtered, 100).count == 1


# Persons


def test_person_admin_carries_the_profiles_extension():
    assert PERSON_ADMIN_EXTENSION in person_admin_extensions()
    assert {"last_seen", "tag_list"} <= set(admin.site._registry[Person].list_display)


def test_person_change_page_shows_stats_and_latest_events(admin_client, events):
    response = admin_client.get(url(Person, "change", events.pk))

    html = response.content.decode()
    assert response.status_code == 200
    assert "12.50" in html  # paid in total and the pay event's amount
    assert "qr_store" in html  # first channel
    table = html[html.index("<table><thead>") :]
    table = table[: table.index("</table>")]
    assert "<td>Pay</td>" in table  # event types and apps by name
    assert "<td>View</td>" in table
    assert "<td>Shop mini-program</td>" in table
    inline = response.context["inline_admin_formsets"][-1]
    assert {form.original.type_id for form in inline} == {"pay", "view"}


def test_person_change_page_lists_only_the_20_latest_events(admin_client, miniprogram, actor):
    ingest(
        actor,
        *(
            make_event(
                miniprogram.appid,
                f"n{day:02d}",
                channel=f"ch_{day:02d}",
                occurred_at=f"2026-10-{day:02d}T10:00:00+08:00",
            )
            for day in range(1, 26)
        ),
    )
    person = Identity.objects.get(openid="oUser1").person

    html = admin_client.get(url(Person, "change", person.pk)).content.decode()

    table = html[html.index("<table><thead>") : html.index("</tbody></table>")]
    assert table.count("<tr>") == 21  # the header and 20 events
    assert "ch_25" in table
    assert "ch_06" in table
    assert "ch_05" not in table


def test_person_without_stats_shows_dashes(admin_client, miniprogram, actor):
    # Not marked seen either: a resolve would give it a stats row (first/last seen).
    person = resolve_identity(app=miniprogram, openid="oNoEvents", actor=actor, seen=False).person
    model_admin = admin.site._registry[Person]
    request = admin_client.get("/").wsgi_request
    loaded = model_admin.get_object(request, str(person.pk))

    response = admin_client.get(url(Person, "change", person.pk))

    assert response.status_code == 200
    assert model_admin.pay_total(loaded) == "-"
    assert model_admin.latest_events(loaded) == "-"
    assert "<table><thead>" not in response.content.decode()


def test_person_stats_values(admin_client, events):
    model_admin = admin.site._registry[Person]
    request = admin_client.get("/").wsgi_request
    person = model_admin.get_object(request, str(events.pk))

    assert model_admin.pay_total(person) == "12.50"
    assert model_admin.pay_count(person) == 1
    assert model_admin.event_count(person) == 2
    assert model_admin.first_channel(person) == "qr_store"
    assert model_admin.last_payment(person) is not None


def test_person_changelist_query_count_is_constant(admin_client, miniprogram, actor):
    def count_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            response = admin_client.get(url(Person, "changelist"))
        assert response.status_code == 200
        return len(queries.captured_queries)

    ingest(actor, make_event(miniprogram.appid, "p0", openid="oMany0"))
    one = count_queries()
    ingest(
        actor,
        *(make_event(miniprogram.appid, f"p{n}", openid=f"oMany{n}") for n in range(1, 10)),
    )
    resolve_identity(app=miniprogram, openid="oWithoutStats", actor=actor)

    assert Person.objects.count() == 11
    assert count_queries() == one


def test_person_changelist_shows_and_sorts_by_last_seen(admin_client, events):
    list_display = admin.site._registry[Person].list_display
    column = list_display.index("last_seen") + 1  # the action checkbox column

    response = admin_client.get(url(Person, "changelist"), {"o": f"-{column}"})

    assert response.status_code == 200
    assert "last seen" in response.content.decode().lower()
    assert response.context["cl"].result_list[0].pk == events.pk
