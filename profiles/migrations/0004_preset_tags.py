"""Preset tag groups and tags a fresh install gets; thresholds live in editable conditions."""

from django.db import migrations

GROUPS = [
    ("lifecycle", "Lifecycle", True),
    ("value", "Value", False),
    ("interest", "Interest", False),
    ("channel", "Channel", False),
]

NEW = {"field": "first_seen_at", "op": "within_days", "value": 7}
RULE_TAGS = [
    ("new", "New", "lifecycle", NEW, "First seen within 7 days."),
    (
        "active",
        "Active",
        "lifecycle",
        {"all": [{"field": "last_seen_at", "op": "within_days", "value": 7}, {"not": NEW}]},
        "Seen within 7 days (and not new).",
    ),
    (
        "dormant",
        "Dormant",
        "lifecycle",
        {
            "all": [
                {"field": "last_seen_at", "op": "older_than_days", "value": 30},
                {"not": {"field": "last_seen_at", "op": "older_than_days", "value": 90}},
            ]
        },
        "Not seen for 30 days (until churned).",
    ),
    (
        "churned",
        "Churned",
        "lifecycle",
        {"field": "last_seen_at", "op": "older_than_days", "value": 90},
        "Not seen for 90 days.",
    ),
    (
        "repeat_buyer",
        "Repeat buyer",
        "value",
        {"field": "pay_count", "op": ">=", "value": 2},
        "Two or more payments.",
    ),
    (
        "high_value",
        "High value",
        "value",
        {"field": "pay_total", "op": ">=", "value": 1000},
        "Paid 1000 or more in total.",
    ),
]


def create_presets(apps, schema_editor):
    TagGroup = apps.get_model("profiles", "TagGroup")
    Tag = apps.get_model("profiles", "Tag")
    groups = {}
    for key, name, exclusive in GROUPS:
        groups[key], _ = TagGroup.objects.get_or_create(
            key=key, defaults={"name": name, "exclusive": exclusive}
        )
    for key, name, group, condition, description in RULE_TAGS:
        Tag.objects.get_or_create(
            key=key,
            defaults={
                "name": name,
                "group": groups[group],
                "kind": "rule",
                "condition": condition,
                "description": description,
            },
        )
    Tag.objects.get_or_create(
        key="vip",
        defaults={"name": "VIP", "group": groups["value"], "kind": "manual",
                  "description": "Set by operations staff."},
    )


class Migration(migrations.Migration):
    dependencies = [("profiles", "0003_tags_and_segments")]

    operations = [migrations.RunPython(create_presets, migrations.RunPython.noop)]
