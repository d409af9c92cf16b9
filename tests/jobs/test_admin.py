"""The admin's background-jobs pages: the schedule with "run now", the queue, the run history."""

import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse
from django.utils import timezone

from jobs.models import JobRun, Outcome
from profiles.models import PendingEvents
from tests.clock import ago

pytestmark = pytest.mark.django_db

SCHEDULE = reverse("admin:jobs_scheduledjob_changelist")
HISTORY = reverse("admin:jobs_jobrun_changelist")
JOB_LIST = reverse("admin:procrastinate_procrastinatejob_changelist")


def _staff(client, *codenames: str) -> User:
    user = User.objects.create_user("operator", password="pw-operator-1", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    client.force_login(user)
    return user


@pytest.fixture
def operator(client):
    return _staff(client, "view_scheduledjob", "view_jobrun", "run_scheduled_job")


def test_the_schedule_page_lists_every_job_with_its_last_run_and_the_queue(client, operator):
    JobRun.objects.create(
        task_name="profiles.refresh_rule_tags",
        started_at=ago(hours=20),
        finished_at=ago(hours=20),
        outcome=Outcome.FAILED,
        error="JobIncomplete: Rule tags not refreshed: broken.",
    )
    PendingEvents.objects.create(
        event_ids=[1, 2],
        occurred_at=[timezone.now()] * 2,
        event_count=2,
        actor_type="system",
        actor_label="test",
        source="api",
    )

    response = client.get(SCHEDULE, headers={"accept-language": "en"})

    assert response.status_code == 200
    html = response.content.decode()
    assert "profiles.refresh_rule_tags" in html
    assert "0 3 * * *" in html
    assert "Rule tags not refreshed: broken." in html
    assert "never run" in html  # the jobs without a run yet
    assert "Events waiting for the pipeline" in html
    assert "No worker is running" in html
    assert f'href="{JOB_LIST}?status=failed"' in html
    assert "Run now" in html


def test_the_pages_speak_chinese(client, operator):
    JobRun.objects.create(task_name="jobs.prune_job_history", started_at=ago(minutes=5))

    schedule = client.get(SCHEDULE, headers={"accept-language": "zh-hans"}).content.decode()
    history = client.get(HISTORY, headers={"accept-language": "zh-hans"}).content.decode()

    assert "定时任务" in schedule  # "Scheduled jobs"
    assert "立即运行" in schedule  # "Run now"
    assert "为所有人刷新全部规则标签" in schedule  # a job's description (profiles)
    assert "任务运行记录" in history  # "job runs"
    english = client.get(SCHEDULE, headers={"accept-language": "en"}).content.decode()
    assert "Run now" in english
    assert "立即运行" not in english


def test_run_now_queues_the_job(client, operator):
    # (JOBS_RUN_INLINE: the suite runs an enqueued job at once, as a worker would)
    url = reverse("admin:jobs_scheduledjob_run", args=["jobs.prune_job_history"])

    response = client.post(url)

    assert response.status_code == 302
    assert JobRun.objects.get(task_name="jobs.prune_job_history").outcome == Outcome.OK


def test_run_now_needs_its_permission_and_a_post(client):
    _staff(client, "view_scheduledjob")
    url = reverse("admin:jobs_scheduledjob_run", args=["jobs.prune_job_history"])

    page = client.get(SCHEDULE).content.decode()
    assert "Run now" not in page
    assert client.post(url).status_code == 403
    assert not JobRun.objects.exists()


def test_run_now_of_an_unknown_job_is_not_found(client, operator):
    url = reverse("admin:jobs_scheduledjob_run", args=["no.such_job"])
    assert client.post(url).status_code == 404


def test_staff_without_the_view_permission_cannot_see_the_schedule(client):
    _staff(client)
    assert client.get(SCHEDULE).status_code == 403


def test_the_run_history_is_read_only_and_filters_by_job_and_outcome(client, operator):
    JobRun.objects.create(task_name="jobs.prune_job_history", started_at=ago(minutes=5))
    JobRun.objects.create(
        task_name="profiles.prune_events", started_at=ago(minutes=3), outcome=Outcome.FAILED
    )

    listed = client.get(HISTORY, {"task_name": "profiles.prune_events", "outcome": "failed"})

    assert listed.status_code == 200
    assert [run.task_name for run in listed.context["cl"].result_list] == ["profiles.prune_events"]
    run = JobRun.objects.first()
    assert client.get(reverse("admin:jobs_jobrun_add")).status_code == 403
    change = client.get(reverse("admin:jobs_jobrun_change", args=[run.pk]))
    assert change.status_code == 200
    assert b'name="_save"' not in change.content


def test_procrastinate_job_list_is_reachable_from_our_admin(admin_client):
    assert admin_client.get(JOB_LIST).status_code == 200
    index = admin_client.get(reverse("admin:index")).content.decode()
    assert SCHEDULE in index
    assert JOB_LIST in index
