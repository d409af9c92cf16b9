from django.db import migrations


def create_type(apps, schema_editor):
    EventType = apps.get_model("profiles", "EventType")
    EventType.objects.update_or_create(
        key="qr_scan",
        defaults={"name": "Scan a QR code (already following)", "builtin": True},
    )


class Migration(migrations.Migration):
    dependencies = [("profiles", "0004_preset_tags")]

    operations = [migrations.RunPython(create_type, migrations.RunPython.noop)]
