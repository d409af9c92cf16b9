import pytest
from django.contrib import admin
from django.urls import reverse

from config.api.scopes import IDENTITY_READ, PHONE_READ
from identity.exceptions import InvalidInput
from identity.models import ApiKey, App, AppKind, AuditEntry, MergeReason, MergeRecord, Person
from identity.models.api_keys import hash_key
from identity.phones import mask_phone
from identity.services.merge import merge_persons
from identity.services.phone import bind_phone
from identity.services.resolve import resolve_identity
from tests.conftest import PERSON_OPENID, PERSON_UNIONID
from tests.factories import ApiKeyFactory

PHONE = "13812345678"


def changelist_url(model) -> str:
    return reverse(f"admin:identity_{model._meta.model_name}_changelist")


def change_url(obj) -> str:
    return reverse(f"admin:identity_{obj._meta.model_name}_change", args=[obj.pk])


def add_url(model) -> str:
    return reverse(f"admin:identity_{model._meta.model_name}_add")


def post_for_messages(client, url: str, data: dict) -> list[str]:
    """Post, follow the redirect and return the messages the next page displayed."""
    response = client.post(url, data, follow=True)
    assert response.redirect_chain
    assert response.status_code == 200
    return [str(message) for message in response.context["messages"]]


def search(admin_client, term: str) -> set[str]:
    response = admin_client.get(changelist_url(Person), {"q": term})
    assert response.status_code == 200
    return {person.public_id for person in response.context["cl"].result_list}


@pytest.fixture
def merged(miniprogram, service_account, actor):
    first = resolve_identity(app=miniprogram, openid="o_first", actor=actor).person
    second = resolve_identity(app=service_account, openid="o_second", actor=actor).person
    record = merge_persons(first=first, second=second, reason=MergeReason.MANUAL, actor=actor)
    return first, second, record


@pytest.fixture
def api_key(miniprogram):
    return ApiKeyFactory(name="backend", scopes=[IDENTITY_READ], apps=[miniprogram])


def test_site_header_is_set():
    assert admin.site.site_header == "Unified identity"


# Rendering


@pytest.mark.parametrize("model", [App, Person, MergeRecord, ApiKey, AuditEntry])
def test_changelists_render(admin_client, person, merged, api_key, model):
    response = admin_client.get(changelist_url(model))

    assert response.status_code == 200


@pytest.mark.parametrize("model", [App, Person, MergeRecord, ApiKey, AuditEntry])
def test_change_pages_render(admin_client, person, merged, api_key, model):
    obj = model.objects.order_by("pk").first()

    response = admin_client.get(change_url(obj))

    assert response.status_code == 200


@pytest.mark.parametrize("model", [App, ApiKey])
def test_add_pages_render(admin_client, model):
    assert admin_client.get(add_url(model)).status_code == 200


@pytest.mark.parametrize("model", [Person, MergeRecord, AuditEntry])
def test_read_only_models_cannot_be_added(admin_client, model):
    model_admin = admin.site._registry[model]

    assert admin_client.get(add_url(model)).status_code == 403
    assert not model_admin.has_add_permission(admin_client.get("/").wsgi_request)


def test_audit_admin_has_no_add_change_or_delete(admin_client, person):
    request = admin_client.get("/").wsgi_request
    model_admin = admin.site._registry[AuditEntry]

    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request)
    assert not model_admin.has_delete_permission(request)


def test_person_changelist_query_count_does_not_grow_with_rows(
    admin_client, miniprogram, service_account, actor, django_assert_max_num_queries
):
    for n in range(20):
        found = resolve_identity(app=miniprogram, openid=f"o_many_{n}", actor=actor).person
        resolve_identity(app=service_account, openid=f"o_svc_{n}", actor=actor)
        bind_phone(person=found, phone=f"1381234{n:04d}", actor=actor)

    with django_assert_max_num_queries(8):
        response = admin_client.get(changelist_url(Person))

    assert response.status_code == 200


# Person search


def test_person_search_by_openid_unionid_and_public_id(admin_client, person, merged):
    assert search(admin_client, PERSON_OPENID) == {person.public_id}
    assert search(admin_client, PERSON_UNIONID) == {person.public_id}
    assert search(admin_client, person.public_id) == {person.public_id}


def test_person_search_by_moved_openid_finds_the_survivor(admin_client, merged):
    survivor, _loser, _record = merged

    assert search(admin_client, "o_second") == {survivor.public_id}


def test_person_search_by_exact_phone(admin_client, person, actor):
    bind_phone(person=person, phone=PHONE, actor=actor)

    assert search(admin_client, PHONE) == {person.public_id}
    assert search(admin_client, "+86 138 1234 5678") == {person.public_id}


# Openids and unionids match by prefix (tests/identity/test_admin_person_search.py); a phone,
# stored encrypted behind a blind index, matches only whole.
@pytest.mark.parametrize("term", ["1381234", "5678", "138****5678", PERSON_OPENID[1:]])
def test_person_search_does_not_match_partial_values(admin_client, person, actor, term):
    bind_phone(person=person, phone=PHONE, actor=actor)

    assert search(admin_client, term) == set()


def test_person_change_page_shows_the_phone_masked_only(admin_client, person, actor):
    bind_phone(person=person, phone=PHONE, actor=actor)

    html = admin_client.get(change_url(person)).content.decode()

    assert mask_phone("+86" + PHONE) in html
    assert PHONE not in html
    assert PERSON_OPENID in html
    assert PERSON_UNIONID in html


def test_person_changelist_shows_the_phone_masked_only(admin_client, person, actor):
    bind_phone(person=person, phone=PHONE, actor=actor)

    html = admin_client.get(changelist_url(Person)).content.decode()

    assert "+86 138****5678" in html
    assert PHONE not in html


def test_person_cannot_be_deleted_in_admin(admin_client, person):
    url = reverse("admin:identity_person_delete", args=[person.pk])

    assert admin_client.post(url, {"post": "yes"}).status_code == 403
    assert Person.objects.filter(pk=person.pk).exists()


# Apps


def test_app_add_goes_through_the_services(admin_client):
    response = admin_client.post(
        add_url(App),
        {
            "appid": "wx9999999999999999",
            "name": "New app",
            "platform": "wechat",
            "kind": AppKind.SERVICE_ACCOUNT,
            "secret": "s3cret-value",
            "callback_token": "tok3n",
            "aes_key": "a" * 43,
        },
    )

    assert response.status_code == 302
    app = App.objects.get(appid="wx9999999999999999")
    assert (app.get_secret(), app.get_callback_token(), app.get_aes_key()) == (
        "s3cret-value",
        "tok3n",
        "a" * 43,
    )
    actions = list(AuditEntry.objects.filter(target=app.appid).values_list("action", flat=True))
    assert actions == ["app.create"]  # one save, one entry
    entry = AuditEntry.objects.get(actor="admin", actor_type="admin")
    assert entry.after["credentials_changed"] == ["aes_key", "callback_token", "secret"]


def test_app_secret_is_write_only(admin_client, miniprogram):
    form = {"name": miniprogram.name, "kind": miniprogram.kind, "secret": "top-secret-42"}

    response = admin_client.post(change_url(miniprogram), form)

    assert response.status_code == 302
    miniprogram.refresh_from_db()
    assert miniprogram.get_secret() == "top-secret-42"
    assert "top-secret-42" not in miniprogram.secret_encrypted
    html = admin_client.get(change_url(miniprogram)).content.decode()
    assert "top-secret-42" not in html
    assert miniprogram.secret_encrypted not in html
    assert "not set" in html  # the callback token and AES key


def test_blank_secret_keeps_the_current_one(admin_client, miniprogram, actor):
    form = {"name": miniprogram.name, "kind": miniprogram.kind, "secret": "first-secret"}
    admin_client.post(change_url(miniprogram), form)

    form = {"name": "Renamed", "kind": miniprogram.kind, "secret": ""}
    response = admin_client.post(change_url(miniprogram), form)

    assert response.status_code == 302
    miniprogram.refresh_from_db()
    assert miniprogram.name == "Renamed"
    assert miniprogram.get_secret() == "first-secret"


def test_app_form_rejects_a_bad_aes_key(admin_client, miniprogram):
    form = {"name": miniprogram.name, "kind": miniprogram.kind, "aes_key": "short"}

    response = admin_client.post(change_url(miniprogram), form)

    assert response.status_code == 200
    assert "aes_key" in response.context["adminform"].form.errors
    miniprogram.refresh_from_db()
    assert miniprogram.get_aes_key() == ""


# API keys


def test_api_key_add_shows_the_key_once(admin_client, miniprogram):
    form = {
        "name": "order service",
        "scopes": [IDENTITY_READ, PHONE_READ],
        "apps": [miniprogram.pk],
    }

    texts = post_for_messages(admin_client, add_url(ApiKey), form)

    key = ApiKey.objects.get(name="order service")
    shown = [text for text in texts if "will not be shown again" in text]
    assert len(shown) == 1
    raw = shown[0].rsplit(" ", 1)[-1]
    assert hash_key(raw) == key.key_hash
    assert sorted(key.scopes) == sorted([IDENTITY_READ, PHONE_READ])
    assert list(key.apps.all()) == [miniprogram]
    assert AuditEntry.objects.filter(action="api_key.create", actor="admin").exists()
    # Displayed once: later pages no longer carry it, and the key page never shows the hash.
    assert raw not in admin_client.get(changelist_url(ApiKey)).content.decode()
    html = admin_client.get(change_url(key)).content.decode()
    assert raw not in html
    assert key.key_hash not in html


def test_api_key_add_requires_a_scope(admin_client):
    response = admin_client.post(add_url(ApiKey), {"name": "no scopes"})

    assert response.status_code == 200
    assert not ApiKey.objects.filter(name="no scopes").exists()


def test_revoke_action_revokes_keys(admin_client, api_key):
    response = admin_client.post(
        changelist_url(ApiKey), {"action": "revoke_keys", "_selected_action": [api_key.pk]}
    )

    assert response.status_code == 302
    api_key.refresh_from_db()
    assert api_key.revoked_at is not None
    assert AuditEntry.objects.filter(action="api_key.revoke", actor="admin").exists()


def test_api_key_change_page_is_read_only(admin_client, api_key):
    response = admin_client.post(change_url(api_key), {"name": "renamed"})

    assert response.status_code == 403
    api_key.refresh_from_db()
    assert api_key.name == "backend"


# Merges


def test_undo_merge_action_restores_both_persons(admin_client, merged):
    first, second, record = merged
    assert Person.objects.get(pk=second.pk).merged_into_id == first.pk

    form = {"action": "undo_merges", "_selected_action": [record.pk], "confirm": "yes"}

    texts = post_for_messages(admin_client, changelist_url(MergeRecord), form)

    assert "Undid 1 merge." in texts
    record.refresh_from_db()
    assert record.undone_at is not None
    assert record.undone_by == "admin:admin"
    assert set(Person.objects.live().values_list("pk", flat=True)) == {first.pk, second.pk}
    assert search(admin_client, "o_first") == {first.public_id}
    assert search(admin_client, "o_second") == {second.public_id}


def test_undo_merge_action_reports_conflicts(admin_client, merged):
    _, _, record = merged
    form = {"action": "undo_merges", "_selected_action": [record.pk], "confirm": "yes"}
    post_for_messages(admin_client, changelist_url(MergeRecord), form)
    MergeRecord.objects.filter(pk=record.pk).update(undone_at=None)  # a stale record

    texts = post_for_messages(admin_client, changelist_url(MergeRecord), form)

    assert any(text.startswith(f"merge #{record.pk}:") for text in texts)
    assert not any(text.startswith("Undid") for text in texts)


def test_merge_records_are_read_only(admin_client, merged):
    _, _, record = merged
    url = reverse("admin:identity_mergerecord_delete", args=[record.pk])

    assert admin_client.post(url, {"post": "yes"}).status_code == 403
    assert admin_client.post(change_url(record), {"reason": "phone"}).status_code == 403


# Audit


def test_audit_search_is_exact_on_target(admin_client, person, actor):
    bind_phone(person=person, phone=PHONE, actor=actor)  # an entry about the person
    url = changelist_url(AuditEntry)

    exact = admin_client.get(url, {"q": person.public_id}).context["cl"].result_list
    partial = admin_client.get(url, {"q": person.public_id[:6]}).context["cl"].result_list

    assert len(exact) >= 1
    assert all(entry.target == person.public_id for entry in exact)
    assert list(partial) == []


def test_domain_error_while_saving_is_a_message_not_a_500(admin_client, monkeypatch):
    def refuse(**kwargs):
        raise InvalidInput({"name": ["Enter a name."]})

    monkeypatch.setattr("identity.admin.api_keys.create_api_key", refuse)
    form = {"name": "doomed", "scopes": [IDENTITY_READ]}

    texts = post_for_messages(admin_client, add_url(ApiKey), form)

    assert texts == ["Some fields are invalid. name: Enter a name."]
    assert not ApiKey.objects.filter(name="doomed").exists()
