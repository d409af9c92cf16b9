from django.db import migrations

BUILTIN = {
    "register": "Register",
    "login": "Log in",
    "view": "View",
    "pay": "Pay",
    "form_submit": "Submit a form",
    "share": "Share",
    "subscribe": "Follow the service account",
    "unsubscribe": "Unfollow the service account",
    "coupon_claim": "Claim a coupon",
    "coupon_use": "Use a coupon",
}


def create_builtin_types(apps, schema_editor):
    EventType = apps.get_model("profiles", "EventType")
    for key, name in BUILTIN.items():
        EventType.objects.update_or_create(key=key, defaults={"name": name, "builtin": True})


class Migration(migrations.Migration):
    dependencies = [("profiles", "0001_initial")]

    operations = [migrations.RunPython(create_builtin_types, migrations.RunPython.noop)]
