"""The admin header's language switch: English / 简体中文 on every page, posting to set_language."""

import pytest
from django.conf import settings
from django.contrib import admin
from django.urls import reverse

pytestmark = pytest.mark.django_db

SET_LANGUAGE = reverse("set_language")
INDEX = reverse("admin:index")
PERSONS = reverse("admin:identity_person_changelist")


def switch_to(client, language: str, page: str):
    return client.post(SET_LANGUAGE, {"language": language, "next": page})


def title(page) -> str:
    html = page.content.decode()
    return html[html.index("<title>") + len("<title>") : html.index("</title>")]


def test_the_switch_turns_the_admin_chinese_and_back(admin_client):
    # Given an admin reading the person list in English
    assert title(admin_client.get(PERSONS)) == "Select person to view | Unified identity"

    # When the switch posts Chinese, then it comes back to the same page, now in Chinese
    answer = switch_to(admin_client, "zh-hans", PERSONS)
    assert (answer.status_code, answer["Location"]) == (302, PERSONS)
    assert admin_client.cookies[settings.LANGUAGE_COOKIE_NAME].value == "zh-hans"
    page = admin_client.get(PERSONS)
    assert '<html lang="zh-hans"' in page.content.decode()
    assert title(page) == "选择用户查看 | 统一身份"

    # And the choice holds on the next pages until the switch posts English again
    assert "用户画像" in admin_client.get(INDEX).content.decode()  # the Profiles app
    switch_to(admin_client, "en", INDEX)
    assert title(admin_client.get(PERSONS)) == "Select person to view | Unified identity"


def test_the_chosen_language_wins_over_the_browsers(admin_client):
    # Given a browser that asks for Chinese, when the switch chose English
    switch_to(admin_client, "en", INDEX)
    # Then the admin stays English
    page = admin_client.get(INDEX, headers={"accept-language": "zh-hans"}).content.decode()
    assert '<html lang="en"' in page


@pytest.mark.parametrize(
    "page",
    [
        reverse("admin:index"),
        reverse("admin:identity_person_changelist"),
        reverse("admin:profiles_tag_changelist"),
        reverse("admin:analytics_report_changelist"),
        reverse("admin:analytics_report_retention"),
        reverse("admin:jobs_scheduledjob_changelist"),
        reverse("admin:auth_user_changelist"),
        reverse("admin:password_change"),
    ],
)
def test_the_switch_is_in_the_header_of_every_admin_page(admin_client, page):
    html = admin_client.get(page).content.decode()
    header = html[html.index('<header id="header">') : html.index("</header>")]
    # It posts to set_language and comes back to this very page
    assert f'action="{SET_LANGUAGE}"' in header
    assert f'name="next" value="{page}"' in header
    # English is the current language; Chinese is offered, named in Chinese
    assert '<strong lang="en" aria-current="true">English</strong>' in header
    assert (
        '<button type="submit" name="language" value="zh-hans" lang="zh-hans">简体中文</button>'
        in header
    )
    # The site header stays
    assert "Unified identity" in header


def test_each_language_is_named_in_itself_in_chinese_too(admin_client):
    html = admin_client.get(INDEX, headers={"accept-language": "zh-hans"}).content.decode()
    header = html[html.index('<header id="header">') : html.index("</header>")]
    assert '<strong lang="zh-hans" aria-current="true">简体中文</strong>' in header
    assert '<button type="submit" name="language" value="en" lang="en">English</button>' in header


def test_the_login_page_has_the_switch_too(client):
    html = client.get(reverse("admin:login"), {"next": INDEX}).content.decode()
    header = html[html.index('<header id="header">') : html.index("</header>")]
    assert f'action="{SET_LANGUAGE}"' in header
    assert "简体中文" in header


def test_a_person_page_keeps_its_query_in_next(admin_client, person):
    page = reverse("admin:identity_person_change", args=[person.pk])
    html = admin_client.get(page, {"_changelist_filters": "q=x"}).content.decode()
    assert f'name="next" value="{page}?_changelist_filters=q%3Dx"' in html


def test_there_is_no_view_site_link_to_a_missing_page(admin_client):
    # "View site" pointed at /, where no page is
    assert admin.site.site_url is None
    assert "View site" not in admin_client.get(INDEX).content.decode()


def test_staff_accounts_and_persons_have_distinct_names(admin_client):
    # Django calls its staff accounts "users", 用户 in Chinese: the word of our persons
    for language, staff, persons in (
        ("en", "Staff users", "Persons"),
        ("zh-hans", "后台账号", "用户"),
    ):
        index = admin_client.get(INDEX, headers={"accept-language": language}).content.decode()
        assert f'<a href="{reverse("admin:auth_user_changelist")}">{staff}</a>' in index
        assert f'<a href="{PERSONS}">{persons}</a>' in index
