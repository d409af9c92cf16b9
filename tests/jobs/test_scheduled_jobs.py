"""Each scheduled job runs its service through the recorded wrapper (what the worker calls)."""

import pytest
from procrastinate.contrib.django import app

from identity.models import Identity
from jobs import schedule
from jobs.models import JobRun, Outcome
from platforms.wechat.models import FollowerImport
from tests.platforms.wechat.conftest import SERVICE, wechat_apps  # noqa: F401 - a fixture

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("name", sorted(schedule.SCHEDULE))
def test_every_scheduled_job_runs_and_is_recorded(name):
    result = app.tasks[name]()  # as the worker calls it, without a job context

    run = JobRun.objects.get(task_name=name)
    assert (run.outcome, run.error) == (Outcome.OK, ""), run.error
    assert run.result == result
    assert isinstance(result, dict)


def test_the_weekly_follower_import_imports_the_accounts_imported_before(
    fake_wechat,
    wechat_apps,  # noqa: F811
    actor,
):
    # Given a service account imported once, which has 30 followers now
    account = wechat_apps["service_account"]
    FollowerImport.objects.create(app=account, finished_at=account.created_at)
    for number in range(30):
        fake_wechat.add_follower(SERVICE, f"oWeekly{number:02d}")

    # When the scheduled import runs
    result = app.tasks["wechat.reimport_followers"]()

    # Then every follower is known and following, and the run says so
    assert result == {"accounts": 1, "followers": 30, "failed": []}
    assert Identity.objects.filter(app=account, followed=True).count() == 30
