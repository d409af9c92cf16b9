"""Rollups keep the app of the events they fold, so that pruned activity stays attributable.

Existing rollups keep no app (NULL): they were folded across apps and cannot be split again.
The unique key gains the app, with NULLs not distinct so that app-less rollups still fold into
one row per (person, origin, type).
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("identity", "0003_identity_identity_followers"),
        ("profiles", "0008_event_id_per_app"),
    ]

    operations = [
        migrations.AddField(
            model_name="eventrollup",
            name="app",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="identity.app",
            ),
        ),
        migrations.RemoveConstraint(
            model_name="eventrollup",
            name="rollup_unique",
        ),
        migrations.AddConstraint(
            model_name="eventrollup",
            constraint=models.UniqueConstraint(
                fields=("person", "origin_person_id", "type", "app"),
                name="rollup_unique",
                nulls_distinct=False,
            ),
        ),
    ]
