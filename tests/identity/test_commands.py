import os
import subprocess
import sys
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from identity.models import ApiKey, App, AuditEntry
from identity.models.api_keys import hash_key

pytestmark = pytest.mark.django_db


def test_create_app_is_idempotent():
    call_command(
        "create_app", "wx1234567890abcdef", kind="miniprogram", name="Shop", stdout=StringIO()
    )
    call_command(
        "create_app", "wx1234567890abcdef", kind="miniprogram", name="Shop 2", stdout=StringIO()
    )
    app = App.objects.get()
    assert app.name == "Shop 2"
    assert AuditEntry.objects.filter(action__startswith="app.").count() == 2


def test_create_app_reads_the_secret_from_the_environment(monkeypatch):
    monkeypatch.setenv("SHOP_SECRET", "s3cr3t-value")
    call_command(
        "create_app",
        "wx1234567890abcdef",
        kind="miniprogram",
        name="Shop",
        secret_from_env="SHOP_SECRET",
        stdout=StringIO(),
    )
    app = App.objects.get()
    assert app.get_secret() == "s3cr3t-value"
    assert "s3cr3t-value" not in app.secret_encrypted


def test_create_app_rejects_a_bad_kind():
    with pytest.raises(CommandError):
        call_command("create_app", "wx1", kind="fax", name="x", stdout=StringIO())


def test_create_api_key_prints_the_key_once_and_stores_its_hash(miniprogram):
    out = StringIO()
    call_command(
        "create_api_key",
        "orders",
        "--scopes",
        "identity:read,phone:read",
        "--apps",
        miniprogram.appid,
        stdout=out,
        stderr=StringIO(),
    )
    raw = out.getvalue().strip()
    key = ApiKey.objects.get()
    assert key.key_hash == hash_key(raw)
    assert raw not in repr(ApiKey.objects.values().get())
    assert sorted(key.scopes) == ["identity:read", "phone:read"]
    assert list(key.apps.values_list("appid", flat=True)) == [miniprogram.appid]


def test_create_api_key_rejects_unknown_scopes_and_apps():
    with pytest.raises(CommandError, match="scopes"):
        call_command("create_api_key", "x", "--scopes", "identity:read,god:mode", stdout=StringIO())
    with pytest.raises(CommandError, match="apps"):
        call_command(
            "create_api_key",
            "x",
            "--scopes",
            "identity:read",
            "--apps",
            "wxnope",
            stdout=StringIO(),
        )


def test_production_settings_pass_check_deploy():
    """With the documented variables set, `check --deploy` reports nothing."""
    env = {
        **os.environ,
        "DEBUG": "false",
        "SECRET_KEY": "x" * 20 + "-production-secret-key-with-enough-entropy-" + "y" * 20,
        "PERSONAL_DATA_KEYS": settings.PERSONAL_DATA_KEYS[0],
        "BLIND_INDEX_KEY": "b" * 40,
        "ALLOWED_HOSTS": "identity.example.com",
        "REDIS_URL": "redis://127.0.0.1:6379/0",  # checked, not connected to
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        env=env,
        capture_output=True,
        text=True,
        cwd=settings.BASE_DIR,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_flags_development_keys():
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "PERSONAL_DATA_KEYS")}
    env["DEBUG"] = "false"
    env["DJANGO_SETTINGS_MODULE"] = "config.settings"
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        env=env,
        capture_output=True,
        text=True,
        cwd=settings.BASE_DIR,
        timeout=120,
    )
    assert result.returncode != 0
    assert "config.W001" in result.stdout + result.stderr


def test_check_deploy_flags_a_cache_of_each_process():
    """Without Redis, a replayed WeChat push sent to another worker would find it unseen."""
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env.update(DEBUG="false", DJANGO_SETTINGS_MODULE="config.settings")
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"],
        env=env,
        capture_output=True,
        text=True,
        cwd=settings.BASE_DIR,
        timeout=120,
    )
    assert "config.W004" in result.stdout + result.stderr
