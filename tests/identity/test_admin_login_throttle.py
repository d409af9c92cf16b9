"""Admin login throttling: repeated failures lock out one username from one address.

Given a staff user, when a client fails to log in AXES_FAILURE_LIMIT times in a row, then that
username from that address is refused (429, with the right password too) while the same
username from another address and another username from the same address still log in.
"""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from django.utils import translation

pytestmark = pytest.mark.django_db

LOGIN = reverse("admin:login")
PASSWORD = "correct horse battery"
HOME = "127.0.0.1"
ELSEWHERE = "127.0.0.2"


USER, OTHER = "night_operator", "day_operator"


@pytest.fixture
def staff():
    for username in (USER, OTHER):
        get_user_model().objects.create_user(
            username, password=PASSWORD, is_staff=True, is_superuser=True
        )


def attempt(username: str, password: str, address: str = HOME, headers: dict | None = None):
    """Post the admin login form from a fresh client: no cookie ties the attempts together."""
    client = Client(REMOTE_ADDR=address)
    response = client.post(LOGIN, {"username": username, "password": password}, headers=headers)
    return response, client


def logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def fail(times: int, username: str = USER, address: str = HOME) -> list[int]:
    return [attempt(username, "wrong", address)[0].status_code for _ in range(times)]


def test_failures_below_the_limit_do_not_lock(settings, staff):
    assert fail(settings.AXES_FAILURE_LIMIT - 1) == [200] * (settings.AXES_FAILURE_LIMIT - 1)

    response, client = attempt(USER, PASSWORD)

    assert response.status_code == 302
    assert logged_in(client)


def test_the_limit_locks_out_even_the_right_password(settings, staff):
    statuses = fail(settings.AXES_FAILURE_LIMIT)

    response, client = attempt(USER, PASSWORD)

    assert statuses[-1] == 429  # the failure that reaches the limit is already refused
    assert statuses[:-1] == [200] * (settings.AXES_FAILURE_LIMIT - 1)
    assert response.status_code == 429
    assert not logged_in(client)
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    assert int(response["Retry-After"]) == minutes * 60
    text = response.content.decode()
    assert f"locked for {minutes} minutes after {settings.AXES_FAILURE_LIMIT} failed" in text
    assert USER not in text  # the page does not name the account


def test_the_lock_is_keyed_by_username_and_address(settings, staff):
    fail(settings.AXES_FAILURE_LIMIT)

    same_user_elsewhere, client_elsewhere = attempt(USER, PASSWORD, ELSEWHERE)
    other_user_here, client_here = attempt(OTHER, PASSWORD)

    assert same_user_elsewhere.status_code == 302
    assert logged_in(client_elsewhere)
    assert other_user_here.status_code == 302
    assert logged_in(client_here)
    assert attempt(USER, PASSWORD)[0].status_code == 429


def test_a_success_resets_the_count(settings, staff):
    fail(settings.AXES_FAILURE_LIMIT - 1)
    assert attempt(USER, PASSWORD)[0].status_code == 302

    assert fail(settings.AXES_FAILURE_LIMIT - 1) == [200] * (settings.AXES_FAILURE_LIMIT - 1)
    assert attempt(USER, PASSWORD)[0].status_code == 302


def test_the_lockout_page_is_in_chinese_for_a_chinese_browser(settings, staff):
    fail(settings.AXES_FAILURE_LIMIT)

    try:
        response, _ = attempt(USER, PASSWORD, headers={"accept-language": "zh-hans"})
    finally:
        translation.deactivate()  # the locale middleware leaves the request's language active

    assert response.status_code == 429
    assert (
        f"登录已锁定 {settings.AXES_COOLOFF_TIME.seconds // 60} 分钟" in response.content.decode()
    )


def test_logs_name_neither_username_nor_address(settings, staff, caplog):
    with caplog.at_level("DEBUG", logger="axes"):
        fail(settings.AXES_FAILURE_LIMIT + 1)

    assert caplog.records  # axes did log the failures and the lockout
    assert USER not in caplog.text
    assert HOME not in caplog.text
