"""Placeholder: the events table becomes partitioned by month (filled in by the partitions work)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("profiles", "0012_pending_events")]
    operations = []
