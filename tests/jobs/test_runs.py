"""Every scheduled run is recorded (jobs.JobRun): successes, failures, and safely worded errors."""

from datetime import timedelta

import psycopg
import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from identity.models import Identity
from jobs.models import JobRun, Outcome
from jobs.runs import JobIncomplete, error_summary, recorded_run
from jobs.tasks import prune_job_history
from profiles.models import Tag, TagKind
from profiles.tasks.schedule import refresh_all_rule_tags
from tests.factories import IdentityFactory, TagFactory
from tests.faults.conftest import url_of


@pytest.mark.django_db
def test_a_successful_run_is_recorded_with_its_summary():
    old = JobRun.objects.create(
        task_name="jobs.prune_job_history", started_at=timezone.now() - timedelta(days=31)
    )

    result = prune_job_history()

    run = JobRun.objects.exclude(pk=old.pk).get()
    assert (run.task_name, run.outcome, run.error) == ("jobs.prune_job_history", Outcome.OK, "")
    assert run.finished_at >= run.started_at
    assert run.duration is not None
    # The job keeps the history short: the run older than JOBS_HISTORY_DAYS is gone
    assert result == run.result == {"runs_deleted": 1}
    assert not JobRun.objects.filter(pk=old.pk).exists()


@pytest.mark.django_db
def test_a_job_that_fails_in_part_is_recorded_failed_with_its_summary_and_still_raises():
    # Given a rule tag whose stored condition can no longer be evaluated
    broken = TagFactory(key="broken", kind=TagKind.RULE, condition={"has_phone": True})
    Tag.objects.filter(pk=broken.pk).update(condition={"no_such_leaf": 1})

    # When the nightly refresh runs, then it fails (procrastinate sees the failure)
    with pytest.raises(JobIncomplete):
        refresh_all_rule_tags()

    # And the run says which tag failed, while the other tags were refreshed
    run = JobRun.objects.get(task_name="profiles.refresh_rule_tags")
    assert run.outcome == Outcome.FAILED
    assert run.error == "JobIncomplete: Rule tags not refreshed: broken."
    assert run.result["failed"] == ["broken"]
    assert run.result["tags"] == Tag.objects.filter(kind=TagKind.RULE).count() > 1


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_failed_run_is_committed_although_the_job_failed():
    with pytest.raises(RuntimeError), recorded_run("jobs.example"):
        raise RuntimeError("the job went wrong\nsecond line")

    # Read from another session: the record was committed, not left in a transaction
    with psycopg.connect(url_of(connection.settings_dict)) as other:
        row = other.execute(
            "SELECT outcome, error, finished_at IS NOT NULL FROM jobs_jobrun "
            "WHERE task_name = 'jobs.example'"
        ).fetchone()
    assert row == ("failed", "RuntimeError", True)  # its message may quote what it read


@pytest.mark.django_db
def test_a_database_error_is_named_by_its_class_and_sqlstate_never_its_values(person):
    openid = Identity.objects.filter(person=person).values_list("openid", flat=True).first()
    identity = Identity.objects.get(openid=openid)

    with pytest.raises(IntegrityError) as caught, transaction.atomic():
        IdentityFactory(app=identity.app, openid=openid)

    text = error_summary(caught.value)
    assert text == "UniqueViolation (SQLSTATE 23505)"
    assert openid not in text


def test_a_long_message_is_cut():
    text = error_summary(JobIncomplete("x" * 1000))
    assert len(text) == 300
    assert text.startswith("JobIncomplete: xxx")


def test_other_messages_are_left_out_they_may_quote_what_the_job_read():
    assert error_summary(ValueError("invalid literal for int(): 'oOpenid123'")) == "ValueError"
