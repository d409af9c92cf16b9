"""Carry the content types (and so the permissions granted on them) of the four WeChat models
from identity and profiles over to this app, so that no stale type is left behind."""

from django.db import migrations

MOVED = [
    ("identity", "wechatsession"),
    ("identity", "followerimport"),
    ("profiles", "wechattagsync"),
    ("profiles", "wechattagmember"),
]


def _relabel(apps, *, forward: bool) -> None:
    content_type = apps.get_model("contenttypes", "ContentType")
    for owner, model in MOVED:
        old, new = (owner, "wechat") if forward else ("wechat", owner)
        if not content_type.objects.filter(app_label=new, model=model).exists():
            content_type.objects.filter(app_label=old, model=model).update(app_label=new)


def forwards(apps, schema_editor):
    _relabel(apps, forward=True)


def backwards(apps, schema_editor):
    _relabel(apps, forward=False)


class Migration(migrations.Migration):
    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("wechat", "0001_initial"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
