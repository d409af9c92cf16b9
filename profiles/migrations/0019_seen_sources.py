"""Keep the two sources of "seen" apart: the first event (the reports') and the resolves.

Adding nullable columns without a default only changes the catalog: this migration holds its
lock for an instant. 0020 fills them in batches and builds the index concurrently.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("profiles", "0018_field_names"),
    ]

    operations = [
        migrations.AddField(
            model_name="personstats",
            name="first_event_at",
            field=models.DateTimeField(null=True, verbose_name="first event"),
        ),
        migrations.AddField(
            model_name="personstats",
            name="first_resolved_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="first resolved"),
        ),
        migrations.AddField(
            model_name="personstats",
            name="last_resolved_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="last resolved"),
        ),
    ]
