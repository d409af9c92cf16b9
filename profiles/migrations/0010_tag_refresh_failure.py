from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("profiles", "0009_rollup_app"),
    ]

    operations = [
        migrations.AddField(
            model_name="tag",
            name="last_refresh_error",
            field=models.TextField(blank=True, default="", verbose_name="last refresh error"),
        ),
        migrations.AddField(
            model_name="tag",
            name="last_refresh_failed_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="last refresh failed"),
        ),
        migrations.AddField(
            model_name="tag",
            name="last_refresh_failure_full",
            field=models.BooleanField(default=False, editable=False),
        ),
    ]
