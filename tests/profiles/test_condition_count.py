"""The condition builder's live count: POST a condition, get the live persons it matches.

Counts, errors located at their nodes, permissions, bad bodies, the count's own statement
timeout, and one count in flight per staff user.
`Audience` (also used by the browser test) is eight persons of whom three "bought at least
twice, follow the service account and are not churned".
"""

import json
from datetime import timedelta

import psycopg
import pytest
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from identity.models import Person
from profiles.models import PersonStats, TagAssignment
from profiles.selectors import COUNT_LOCK_NAMESPACE
from profiles.services.rules import refresh_rule_tags
from tests.factories import IdentityFactory, PersonFactory
from tests.profiles.test_conditions_hostile import stats_locked  # noqa: F401 - a fixture

pytestmark = pytest.mark.django_db

COUNT_URL = reverse("admin:profiles_condition_count")


class Audience:
    """Eight persons; `condition` (in `service`'s terms) matches `matching`, three of them.

    Per person: payments, whether they follow the service account (None: no identity there),
    whether they are churned (last seen 100 days ago, the preset rule refreshed).
    """

    ROWS = [
        (3, True, False),  # match
        (2, True, False),  # match
        (5, True, False),  # match
        (2, True, True),  # churned
        (1, True, False),  # one payment only
        (4, False, False),  # unfollowed
        (0, None, False),  # no stats, never followed
        (6, None, False),  # not a follower
    ]

    def __init__(self, *, miniprogram, service_account, actor):
        now = timezone.now()
        self.persons: list[Person] = []
        for n, (payments, follows, churned) in enumerate(self.ROWS):
            person = PersonFactory(openids={miniprogram: f"oAudience{n}"})
            if follows is not None:
                IdentityFactory(
                    person=person, app=service_account, openid=f"oAudSvc{n}", followed=follows
                )
            if payments:
                seen = now - timedelta(days=100 if churned else 2)
                PersonStats.objects.create(
                    person=person, pay_count=payments, first_seen_at=seen, last_seen_at=seen
                )
            self.persons.append(person)
        refresh_rule_tags(actor=actor, keys=["churned"])
        assert TagAssignment.objects.filter(tag__key="churned").count() == 1
        self.matching = {self.persons[n].pk for n in (0, 1, 2)}
        self.condition = {
            "all": [
                {"field": "pay_count", "op": ">=", "value": 2},
                {"followed": service_account.appid},
                {"not": {"tag": "churned"}},
            ]
        }


@pytest.fixture
def audience(miniprogram, service_account, actor):
    return Audience(miniprogram=miniprogram, service_account=service_account, actor=actor)


def post(client, body, **kwargs):
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return client.post(COUNT_URL, data, content_type="application/json", **kwargs)


def staff(*permissions: str, username: str = "clerk") -> Client:
    user = User.objects.create_user(username, password="pw", is_staff=True)
    for codename in permissions:
        user.user_permissions.add(Permission.objects.get(codename=codename))
    client = Client()
    client.force_login(user)
    return client


def test_counts_the_live_persons_a_condition_matches(admin_client, audience):
    response = post(admin_client, {"condition": audience.condition})

    assert response.status_code == 200
    assert response.json() == {"count": 3}


def test_a_merged_away_person_is_not_counted(admin_client, audience):
    Person.objects.filter(pk=audience.persons[0].pk).update(merged_into=audience.persons[4])

    assert post(admin_client, {"condition": audience.condition}).json() == {"count": 2}


def test_errors_carry_the_path_of_their_node_and_value(admin_client, audience, service_account):
    condition = {
        "all": [
            {"field": "pay_count", "op": ">=", "value": -1},
            {"followed": service_account.appid},
            {"not": {"tag": "no_such_tag"}},
            {"any": []},
            {"event": "pay", "within_days": 0, "min_count": 1},
        ]
    }

    response = post(admin_client, {"condition": condition}, headers={"accept-language": "en"})

    assert response.status_code == 400
    errors = response.json()["errors"]
    assert {(tuple(error["path"]), error["field"]) for error in errors} == {
        (("all", 0, "value"), "condition"),
        (("all", 2, "not", "tag"), "condition"),
        (("all", 3, "any"), "condition"),
        (("all", 4, "within_days"), "condition"),
    }
    by_path = {tuple(error["path"]): error["message"] for error in errors}
    assert "whole number from 0" in by_path[("all", 0, "value")]
    assert "no_such_tag" in by_path[("all", 2, "not", "tag")]


def test_errors_are_in_the_staff_users_language(admin_client, audience):
    condition = {"all": [{"field": "pay_count", "op": ">=", "value": -1}, {"tag": "no_such"}]}

    response = post(admin_client, {"condition": condition}, headers={"accept-language": "zh-hans"})

    assert response.status_code == 400
    by_path = {tuple(error["path"]): error["message"] for error in response.json()["errors"]}
    assert by_path[("all", 0, "value")] == "数值必须是 0 到 2147483647 之间的整数。"
    assert by_path[("all", 1, "tag")] == "未知标签 'no_such'。"


def test_a_rule_that_would_depend_on_itself_is_refused(admin_client, audience):
    response = post(admin_client, {"condition": {"tag": "churned"}, "tag": "churned"})

    assert response.status_code == 400
    assert response.json()["errors"][0]["path"] == ["tag"]


def test_the_root_is_the_empty_path(admin_client, db):
    response = post(admin_client, {"condition": {"colour": "red"}})

    assert response.status_code == 400
    assert [error["path"] for error in response.json()["errors"]] == [[]]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("{not json", "body"),
        (b"\xff\xfe", "body"),
        ("[" * 100_000, "body"),
        (json.dumps([{"condition": {"has_phone": True}}]), "condition"),
        (json.dumps({"conditions": {"has_phone": True}}), "condition"),
        (json.dumps({"condition": {"has_phone": True}, "tag": 7}), "tag"),
    ],
    ids=["not-json", "not-utf8", "too-deep", "not-an-object", "no-condition", "tag-not-text"],
)
def test_a_bad_body_is_a_400_naming_the_field(admin_client, body, field):
    response = post(admin_client, body)

    assert response.status_code == 400
    assert [error["field"] for error in response.json()["errors"]] == [field]


@pytest.mark.parametrize("permission", ["view_segment", "view_tag", "change_segment", "change_tag"])
def test_view_or_change_permission_on_segments_or_tags_is_enough(audience, permission):
    response = post(staff(permission), {"condition": audience.condition})

    assert response.json() == {"count": 3}


def test_staff_without_view_permission_get_403(audience):
    response = post(staff("view_person"), {"condition": audience.condition})

    assert response.status_code == 403
    assert "count" not in response.json()


def test_without_a_staff_login_the_answer_is_403(audience):
    user = User.objects.create_user("customer", password="pw")
    client = Client()
    client.force_login(user)

    assert post(Client(), {"condition": audience.condition}).status_code == 403
    assert post(client, {"condition": audience.condition}).status_code == 403


def test_get_is_not_allowed(admin_client):
    assert admin_client.get(COUNT_URL).status_code == 405


def test_a_post_without_the_csrf_token_is_refused(audience):
    client = Client(enforce_csrf_checks=True)
    client.force_login(User.objects.create_superuser("boss", password="pw"))

    response = post(client, {"condition": audience.condition})

    assert response.status_code == 403


@pytest.mark.pg_timers
@pytest.mark.usefixtures("stats_locked")
def test_a_count_stopped_by_its_statement_timeout_is_a_503(
    admin_client, service_account, settings, caplog
):
    """The stats table is locked by another connection: the count waits until its timeout,
    the live count's own, not the rule refreshes' one."""
    settings.CONDITION_STATEMENT_TIMEOUT_MS = 60_000
    settings.CONDITION_COUNT_TIMEOUT_MS = 50
    condition = {
        "any": [{"followed": service_account.appid}, {"field": "pay_count", "op": ">=", "value": 2}]
    }

    response = post(admin_client, {"condition": condition}, headers={"accept-language": "en"})

    assert response.status_code == 503
    assert "50 ms" in response.json()["errors"][0]["message"]
    assert service_account.appid not in caplog.text


def test_the_count_timeout_defaults_to_three_seconds():
    from django.conf import settings

    assert settings.CONDITION_COUNT_TIMEOUT_MS == 3000


@pytest.fixture
def count_running_for():
    """Hold a staff user's count lock from a second connection, as their count still running
    (one the browser gave up on) would."""
    params = connection.settings_dict
    side = psycopg.connect(
        dbname=params["NAME"],
        user=params["USER"],
        password=params["PASSWORD"] or None,
        host=params["HOST"] or None,
        port=params["PORT"] or None,
        autocommit=True,
    )

    def hold(user: User) -> None:
        side.execute("SELECT pg_advisory_lock(hashtext(%s), %s)", [COUNT_LOCK_NAMESPACE, user.pk])

    try:
        yield hold
    finally:
        side.close()


def test_a_second_count_of_the_same_user_while_one_runs_is_a_429(
    admin_client, admin_user, audience, count_running_for
):
    # Given a count of this staff user still running
    count_running_for(admin_user)

    # When they ask for another
    response = post(
        admin_client, {"condition": audience.condition}, headers={"accept-language": "en"}
    )

    # Then it is refused at once, saying why, and when to ask again
    assert response.status_code == 429
    assert "previous count is still running" in response.json()["errors"][0]["message"]
    assert response["Retry-After"] == "1"


def test_another_staff_user_still_counts_meanwhile(admin_user, audience, count_running_for):
    count_running_for(admin_user)

    response = post(staff("view_segment"), {"condition": audience.condition})

    assert response.json() == {"count": 3}


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_lock_is_let_go_when_the_count_ends(admin_client, audience):
    """Counts one after the other all answer: the lock lasts one count's transaction (here a
    real one: in the other tests the test's own transaction holds it till the test ends)."""
    for _ in range(3):
        assert post(admin_client, {"condition": audience.condition}).json() == {"count": 3}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
        )
        held = cursor.fetchone()[0]
    assert held == 0
