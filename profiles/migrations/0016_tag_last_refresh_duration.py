from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("profiles", "0015_pending_events_failed"),
    ]

    operations = [
        migrations.AddField(
            model_name="tag",
            name="last_refresh_duration",
            field=models.DurationField(
                blank=True, editable=False, null=True, verbose_name="last refresh duration"
            ),
        ),
    ]
