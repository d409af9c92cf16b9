"""Bring the lifecycle presets to the five stages of DESIGN.md, and give seen persons their times.

The stages, exclusive, cover every person who has been seen, with no gap and no overlap: a
`within_days N` and an `older_than_days N` on the same field split time at the same instant
(`>= now - N days` / `< now - N days`). Days ago are counted up: seen 7 days and an hour ago is
"8 days ago".

- new: first seen within 7 days;
- active: seen within 7 days, not new;
- cooling: last seen 8 to 29 days ago (more than 7 days ago, not more than 29);
- dormant: 30 to 89 days (more than 29, not more than 89);
- churned: 90 days or more (more than 89).

A preset whose condition is still the default of 0004 gets the new one (dormant and churned
move by a day, to meet cooling and each other); a preset an operator edited (its condition is
not the old default) is left alone, as is a preset they deleted. Cooling is added unless a tag
of that key exists. A fresh install runs 0004 then this, and so gets the five stages.

Persons created by a resolve, a login or a follower import before resolves marked them seen
have no first/last seen (profiles.services.seen now sets them): they get their creation time,
when the service first and last saw them. Then the rule tags over first/last seen are queued
for a refresh through the jobs queue (written in this transaction, run by the worker like a
tag's save), so that nobody waits for the night's refresh for the new members.
"""

import json

from django.db import migrations

ACTOR = ("system", "migration: lifecycle stages")
NEW = {"field": "first_seen_at", "op": "within_days", "value": 7}


def _seen_older_than(days: int) -> dict:
    return {"field": "last_seen_at", "op": "older_than_days", "value": days}


def _between(newer: int, older: int) -> dict:
    return {"all": [_seen_older_than(newer), {"not": _seen_older_than(older)}]}


OLD = {
    "dormant": (_between(30, 90), "Not seen for 30 days (until churned)."),
    "churned": (_seen_older_than(90), "Not seen for 90 days."),
}
CURRENT = {
    "dormant": (_between(29, 89), "Last seen 30 to 89 days ago."),
    "churned": (_seen_older_than(89), "Last seen 90 days ago or more."),
}
COOLING = ("cooling", "Cooling", _between(7, 29), "Last seen 8 to 29 days ago.")
SEEN_FIELDS = ('"first_seen_at"', '"last_seen_at"')


def forwards(apps, schema_editor):
    Tag = apps.get_model("profiles", "Tag")
    TagGroup = apps.get_model("profiles", "TagGroup")
    AuditEntry = apps.get_model("identity", "AuditEntry")
    # An install in use gets audit entries and refreshes; a fresh one has no history to explain
    # and nobody to refresh.
    in_use = apps.get_model("identity", "Person").objects.exists()

    def audit(action, tag, before, after):
        if not in_use:
            return
        AuditEntry.objects.create(
            actor_type=ACTOR[0],
            actor=ACTOR[1],
            action=action,
            target=tag.key,
            before=before,
            after=after,
        )

    for key, (old_condition, old_description) in OLD.items():
        tag = Tag.objects.filter(key=key, kind="rule").first()
        if tag is None or tag.condition != old_condition:
            continue  # deleted or edited by an operator: theirs
        condition, description = CURRENT[key]
        before = {"condition": tag.condition, "description": tag.description}
        tag.condition = condition
        if tag.description == old_description:
            tag.description = description
        tag.save(update_fields=["condition", "description", "updated_at"])
        audit("tag.update", tag, before, {"condition": condition, "description": tag.description})

    key, name, condition, description = COOLING
    if not Tag.objects.filter(key=key).exists():
        group, _ = TagGroup.objects.get_or_create(
            key="lifecycle", defaults={"name": "Lifecycle", "exclusive": True}
        )
        tag = Tag.objects.create(
            key=key,
            name=name,
            group=group,
            kind="rule",
            condition=condition,
            description=description,
        )
        audit("tag.create", tag, None, {"condition": condition, "group": group.key})

    with schema_editor.connection.cursor() as cursor:
        # One statement; persons with events already have both times.
        cursor.execute(
            """
            INSERT INTO profiles_personstats AS s (
                person_id, event_count, first_seen_at, last_seen_at, first_channel,
                pay_count, pay_total, updated_at)
            SELECT p.id, 0, p.created_at, p.created_at, '', 0, 0, now()
            FROM identity_person p
            WHERE p.merged_into_id IS NULL AND p.erased_at IS NULL
            ORDER BY p.id
            ON CONFLICT (person_id) DO UPDATE SET
                first_seen_at = EXCLUDED.first_seen_at, last_seen_at = EXCLUDED.last_seen_at,
                updated_at = now()
            WHERE s.first_seen_at IS NULL AND s.last_seen_at IS NULL
            """
        )
    if in_use:
        _queue_refreshes(Tag)


def _queue_refreshes(Tag):
    """Queue a refresh of every rule tag over first/last seen, as saving it would.

    Imports live code (the job queue and the refresh job) on purpose: a hand-written job row
    would drift from what the worker expects. Renaming either means editing this import here
    (tests/profiles/test_lifecycle_migration.py runs this migration and would fail first).
    """
    from jobs.queue import enqueue
    from profiles.tasks.rules import refresh_lock, refresh_rule_tag_job

    for tag in Tag.objects.filter(kind="rule").order_by("key"):
        text = json.dumps(tag.condition)
        if not any(field in text for field in SEEN_FIELDS):
            continue
        lock = refresh_lock(tag.pk)
        enqueue(
            refresh_rule_tag_job,
            queueing_lock=lock,
            lock=lock,
            tag_id=tag.pk,
            actor_type=ACTOR[0],
            actor_label=ACTOR[1],
        )


def backwards(apps, schema_editor):
    """Give the presets still at today's defaults the old conditions back; keep cooling and
    the seen times (staff may have used them meanwhile)."""
    Tag = apps.get_model("profiles", "Tag")
    for key, (condition, description) in CURRENT.items():
        old_condition, old_description = OLD[key]
        tag = Tag.objects.filter(key=key, kind="rule", condition=condition).first()
        if tag is None:
            continue
        tag.condition = old_condition
        if tag.description == description:
            tag.description = old_description
        tag.save(update_fields=["condition", "description", "updated_at"])


class Migration(migrations.Migration):
    dependencies = [
        ("profiles", "0016_tag_last_refresh_duration"),
        ("identity", "0004_wechat_models_to_platforms"),
        # The refreshes go through the jobs queue, whose tables procrastinate creates.
        ("procrastinate", "0041_post_retry_failed_job"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
