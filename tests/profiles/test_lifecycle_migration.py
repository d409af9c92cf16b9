"""Migration 0017 brings an existing install's lifecycle presets to the five stages.

Run on a database put back to 0016 with 0004's presets (one of them edited by an operator),
then migrated forward as a deployment does; the queued refreshes then give everyone a stage.
"""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone
from procrastinate.contrib.django.models import ProcrastinateJob

from identity.models import AuditEntry, Person
from profiles.models import PersonStats, Tag, TagAssignment
from profiles.tasks.rules import TASK_NAME, refresh_rule_tag_job
from tests.clock import ago

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

BEFORE = [("profiles", "0016_tag_last_refresh_duration")]
OLD_DORMANT = {
    "all": [
        {"field": "last_seen_at", "op": "older_than_days", "value": 30},
        {"not": {"field": "last_seen_at", "op": "older_than_days", "value": 90}},
    ]
}
EDITED_CHURNED = {"field": "last_seen_at", "op": "older_than_days", "value": 120}
STAGES = ("new", "active", "cooling", "dormant", "churned")


def migrate(targets=None):
    """Migrate to `targets`, or (None) all the way forward, as a deployment does."""
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    targets = targets or executor.loader.graph.leaf_nodes()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.fixture
def old_install(settings):
    """0004's presets, churned edited by staff, no cooling; a person seen only by a resolve
    (no stats), one with events 45 days ago, jobs waiting for a worker."""
    settings.JOBS_RUN_INLINE = False
    apps = migrate(BEFORE)
    old_tag = apps.get_model("profiles", "Tag")
    old_tag.objects.filter(key="cooling").delete()
    assert old_tag.objects.get(key="dormant").condition == OLD_DORMANT
    old_tag.objects.filter(key="churned").update(condition=EDITED_CHURNED)
    resolved = Person.objects.create(created_at=ago(days=3))
    with_events = Person.objects.create(created_at=ago(days=300))
    # The model of 0016, without the columns later migrations add.
    apps.get_model("profiles", "PersonStats").objects.create(
        person_id=with_events.pk,
        event_count=2,
        first_seen_at=ago(days=200),
        last_seen_at=ago(days=45),
    )
    yield resolved, with_events
    migrate()


def test_the_migration_updates_defaults_keeps_edits_and_adds_cooling(old_install):
    resolved, with_events = old_install
    started = timezone.now()
    migrate()

    dormant, churned, cooling = (Tag.objects.get(key=k) for k in ("dormant", "churned", "cooling"))
    assert dormant.condition == {
        "all": [
            {"field": "last_seen_at", "op": "older_than_days", "value": 29},
            {"not": {"field": "last_seen_at", "op": "older_than_days", "value": 89}},
        ]
    }
    assert dormant.description == "Last seen 30 to 89 days ago."
    assert churned.condition == EDITED_CHURNED  # the operator's edit stays
    assert (cooling.group.key, cooling.kind) == ("lifecycle", "rule")
    assert set(
        AuditEntry.objects.filter(
            actor="migration: lifecycle stages", created_at__gte=started
        ).values_list("action", "target")
    ) == {("tag.update", "dormant"), ("tag.create", "cooling")}

    # The person seen by a resolve only is seen since its creation; events' times stay.
    # 0019 keeps the two sources apart: resolve times for the one, the first event for the
    # reports for the other.
    stats = PersonStats.objects.get(person=resolved)
    assert stats.first_seen_at == stats.last_seen_at == resolved.created_at
    assert stats.first_resolved_at == stats.last_resolved_at == resolved.created_at
    assert stats.first_event_at is None
    stats = PersonStats.objects.get(person=with_events)
    assert stats.last_seen_at < ago(days=44)
    assert stats.first_event_at == stats.first_seen_at < ago(days=199)
    assert stats.first_resolved_at is stats.last_resolved_at is None

    # The rule tags over first/last seen wait for the worker: no manual step.
    jobs = ProcrastinateJob.objects.filter(task_name=TASK_NAME, status="todo")
    queued = set(
        Tag.objects.filter(pk__in=[j.args["tag_id"] for j in jobs]).values_list("key", flat=True)
    )
    assert set(STAGES) <= queued
    for job in jobs:
        refresh_rule_tag_job(**job.args)
    held = dict(
        TagAssignment.objects.filter(tag__key__in=STAGES).values_list("person_id", "tag__key")
    )
    assert held == {resolved.pk: "new", with_events.pk: "dormant"}


def test_a_fresh_install_gets_the_five_stages_and_queues_nothing(settings):
    settings.JOBS_RUN_INLINE = False
    migrate(BEFORE)  # 0004's presets, nobody in the database
    Tag.objects.filter(key="cooling").delete()
    migrate()
    assert set(Tag.objects.filter(group__key="lifecycle").values_list("key", flat=True)) == set(
        STAGES
    )
    assert not ProcrastinateJob.objects.filter(task_name=TASK_NAME).exists()
