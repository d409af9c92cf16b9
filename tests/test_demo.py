"""The demo (`python -m demo`, `make run`): apps, persons, phones, events, an admin and one live
key kept across runs, URLs as make run serves them, and what a second shell's manage.py reads."""

import os
import shutil
import stat
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pgserver
import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework.test import APIClient

from config import local_state
from demo import credentials as demo_credentials_module
from demo.load import load_demo
from demo.summary import service_url
from identity.models import ApiKey, App, Identity, Person
from identity.models.api_keys import hash_key
from profiles.models import Event, PersonStats

ROOT = Path(__file__).resolve().parents[1]
FAKE_BASE = "http://127.0.0.1:8555"


@pytest.fixture(autouse=True)
def _local_state_in_tmp(tmp_path, monkeypatch):
    """Keep the demo's kept credentials and run.env out of the checkout's .local/."""
    monkeypatch.setattr(
        demo_credentials_module, "CREDENTIALS_FILE", tmp_path / "demo-credentials.json"
    )
    monkeypatch.setattr(local_state, "RUN_ENV_FILE", tmp_path / "run.env")


def _live_demo_keys():
    return ApiKey.objects.filter(name=demo_credentials_module.DEMO_KEY_NAME, revoked_at=None)


@pytest.mark.django_db
def test_load_demo_creates_apps_persons_shared_unionids_phones_admin_and_key():
    # Given an empty database, when the demo loads
    out = StringIO()
    load_demo(persons=60, out=out)

    # Then it holds the three kinds of apps, persons tied across them and their stats
    assert App.objects.values_list("kind", flat=True).distinct().count() == 3
    assert Person.objects.live().count() >= 50
    assert Identity.objects.count() > Person.objects.live().count()  # unionids tie apps together
    assert Person.objects.filter(phone_index__isnull=False).exists()
    assert PersonStats.objects.filter(pay_count__gt=0).exists()  # demo events feed stats
    assert "login admin / " in out.getvalue()
    assert "API key:  uik_" in out.getvalue()

    # And loading again duplicates nothing and leaves one live demo key
    load_demo(persons=60, out=StringIO())
    assert ApiKey.objects.filter(revoked_at__isnull=True).count() == 1


@pytest.mark.django_db
def test_no_demo_event_lies_after_the_moment_of_loading():
    # When the demo loads (among its persons, some arrived a day ago)
    load_demo(persons=120, out=StringIO())
    loaded_at = timezone.now()

    # Then every event happened at or before that moment, and there are events
    assert Event.objects.exists()
    assert not Event.objects.filter(occurred_at__gt=loaded_at).exists()


@pytest.mark.django_db
def test_the_api_key_and_admin_password_survive_a_second_load(tmp_path):
    # Given a first load, which prints a login and a key
    first = load_demo(persons=10, out=StringIO())

    # When the demo loads again
    out = StringIO()
    second = load_demo(persons=10, out=out)

    # Then the same password and key are printed again, and both still work
    assert (second.password, second.api_key) == (first.password, first.api_key)
    assert f"login admin / {first.password}  (kept from the last run)" in out.getvalue()
    assert f"API key:  {first.api_key}  (kept from the last run)" in out.getvalue()
    admin = get_user_model().objects.get(username="admin")
    assert admin.is_superuser
    assert admin.check_password(first.password)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {first.api_key}")
    assert client.get("/api/v1/tags").status_code == 200
    assert _live_demo_keys().count() == 1

    # And the file that keeps them is the owner's alone
    kept = tmp_path / "demo-credentials.json"
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600


@pytest.mark.django_db
def test_a_password_set_in_the_admin_is_kept_and_a_new_database_gets_the_saved_one():
    # Given a loaded demo whose admin then chose a password of their own
    first = load_demo(persons=5, out=StringIO())
    admin = get_user_model().objects.get(username="admin")
    admin.set_password("chosen-in-the-admin-42")
    admin.save()

    # When the demo loads again, then that password stays and the output says so
    out = StringIO()
    load_demo(persons=5, out=out)
    admin.refresh_from_db()
    assert admin.check_password("chosen-in-the-admin-42")
    assert "(the password set in the admin)" in out.getvalue()

    # And when the admin is gone (a new database), the saved password comes back with it
    admin.delete()
    again = load_demo(persons=5, out=StringIO())
    assert again.password == first.password
    assert get_user_model().objects.get(username="admin").check_password(first.password)


@pytest.mark.django_db
def test_rotate_makes_a_new_password_and_key_and_revokes_the_old_key():
    # Given a loaded demo
    first = load_demo(persons=5, out=StringIO())

    # When it loads with rotate
    out = StringIO()
    rotated = load_demo(persons=5, rotate=True, out=out)

    # Then both are new, the old key no longer works, and the next load keeps the new ones
    assert rotated.password != first.password
    assert rotated.api_key != first.api_key
    assert "1 earlier demo key(s) revoked" in out.getvalue()
    assert not _live_demo_keys().filter(key_hash=hash_key(first.api_key)).exists()
    assert load_demo(persons=5, out=StringIO()).api_key == rotated.api_key


@pytest.mark.django_db
def test_a_kept_key_revoked_in_the_admin_is_replaced():
    first = load_demo(persons=5, out=StringIO())
    _live_demo_keys().update(revoked_at=timezone.now())

    again = load_demo(persons=5, out=StringIO())

    assert again.api_key != first.api_key
    assert _live_demo_keys().get().key_hash == hash_key(again.api_key)


@pytest.mark.django_db
def test_printed_urls_follow_the_host_and_port_make_run_serves_on():
    # When make run serves on another port (on every interface)
    out = StringIO()
    load_demo(persons=5, host="0.0.0.0", port=9123, wechat_api_base=FAKE_BASE, out=out)  # noqa: S104

    # Then the URLs printed are that port's, on an address a browser here opens
    printed = out.getvalue()
    assert "http://127.0.0.1:9123/admin/" in printed
    assert "http://127.0.0.1:9123/api/v1/docs/" in printed
    assert "http://127.0.0.1:9123/api/v1/persons/lookup?" in printed
    assert f"fake WeChat server on {FAKE_BASE}" in printed
    assert ":8000" not in printed


@pytest.mark.parametrize(
    ("host", "port", "url"),
    [
        ("127.0.0.1", 8000, "http://127.0.0.1:8000"),
        ("localhost", 9000, "http://localhost:9000"),
        ("0.0.0.0", 8001, "http://127.0.0.1:8001"),  # noqa: S104
        ("::1", 8002, "http://[::1]:8002"),
        ("[::1]", 8003, "http://[::1]:8003"),
    ],
)
def test_service_url(host, port, url):
    assert service_url(host, port) == url


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_run_passes_its_host_port_and_fake_wechat_server_to_the_demo():
    # When make run is asked (dry run) to serve elsewhere
    done = subprocess.run(
        ["make", "-n", "run", "HOST=localhost", "PORT=9123", "FAKE_WECHAT_PORT=8999"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env={k: v for k, v in os.environ.items() if k != "WECHAT_API_BASE"},
    )

    # Then the demo prints those URLs and records the fake server it runs with
    assert done.returncode == 0, done.stderr
    assert (
        "-m demo --host 'localhost' --port '9123' --wechat-api-base 'http://127.0.0.1:8999'"
    ) in done.stdout
    assert "runserver localhost:9123" in done.stdout


@pytest.mark.django_db
def test_the_demo_writes_the_fake_wechat_server_to_run_env(tmp_path):
    # When make run's demo step loads with its fake WeChat server
    out = StringIO()
    load_demo(persons=5, wechat_api_base=FAKE_BASE, out=out)

    # Then .local/run.env holds it, for the owner only, and the output says where
    run_env = tmp_path / "run.env"
    assert f"WECHAT_API_BASE={FAKE_BASE}\n" in run_env.read_text()
    assert stat.S_IMODE(run_env.stat().st_mode) == 0o600
    assert str(run_env) in out.getvalue()


@pytest.mark.parametrize(
    ("environment", "expected"),
    [
        ({}, FAKE_BASE),  # the embedded database: a local run
        ({"DATABASE_URL": "postgres://db/x", "DEBUG": "1"}, FAKE_BASE),  # local, own database
        ({"WECHAT_API_BASE": "http://explicit:1"}, "http://explicit:1"),  # explicit wins
        ({"WECHAT_API_BASE": ""}, ""),  # explicitly empty wins too
        ({"DATABASE_URL": "postgres://db/x"}, None),  # production: never read
        ({"DATABASE_URL": "postgres://db/x", "DEBUG": "0"}, None),
    ],
)
def test_load_run_env_sets_what_the_environment_leaves_unset_on_a_local_run(
    tmp_path, monkeypatch, environment, expected
):
    # Given a run.env written by make run, and a shell's environment
    run_env = local_state.write_run_env({"WECHAT_API_BASE": FAKE_BASE}, path=tmp_path / "r.env")
    for name in ("DATABASE_URL", "DEBUG", "WECHAT_API_BASE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)

    # When manage.py starts
    local_state.load_run_env(run_env)

    # Then the variable is the file's on a local run unless the environment set it
    assert os.environ.get("WECHAT_API_BASE") == expected


@pytest.mark.parametrize(
    ("environment", "expected"),
    [
        ({"DEBUG": "1"}, FAKE_BASE),
        ({"DEBUG": "1", "WECHAT_API_BASE": "http://explicit:1"}, "http://explicit:1"),
        ({"DEBUG": "0"}, "https://api.weixin.qq.com"),
    ],
)
def test_manage_py_in_another_shell_reads_run_env(tmp_path, environment, expected):
    # Given the local state of a make run (in its own folder; a DATABASE_URL, never connected)
    (tmp_path / "run.env").write_text(f"# make run\nWECHAT_API_BASE={FAKE_BASE}\n")
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("WECHAT_API_BASE", "DEBUG")},
        "LOCAL_STATE_DIR": str(tmp_path),
        "DATABASE_URL": "postgres://nobody@127.0.0.1:1/none",
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        **environment,
    }

    # When a command starts from another shell
    done = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "shell",
            "--no-imports",
            "-c",
            "from django.conf import settings; print(settings.WECHAT_API_BASE)",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )

    # Then it talks to make run's fake server, unless told otherwise or in production
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == expected


def test_the_embedded_database_is_announced_with_its_folder(tmp_path, monkeypatch):
    # Given a data folder under the working directory, and one elsewhere
    monkeypatch.chdir(tmp_path)
    inside, outside = StringIO(), StringIO()

    # When they are announced
    local_state.announce_embedded_database(tmp_path / ".local" / "pgdata", out=inside)
    local_state.announce_embedded_database(Path("/srv/elsewhere/pgdata"), out=outside)

    # Then one line says it runs, where its data is (as cd would find it) and how to stop it
    assert inside.getvalue() == (
        "Embedded PostgreSQL running, data in .local/pgdata (stop with make stop-db)\n"
    )
    assert "data in /srv/elsewhere/pgdata (stop" in outside.getvalue()


def test_starting_the_embedded_database_announces_it_and_reusing_it_does_not(
    tmp_path, monkeypatch, capsys
):
    # Given the embedded server's start replaced by a stand-in (the real one runs the suite)
    class Server:
        def get_uri(self):
            return "postgresql://postgres:@/postgres?host=/tmp"

    monkeypatch.setattr(local_state, "PGDATA_DIR", tmp_path / "pgdata")
    monkeypatch.setattr(pgserver, "get_server", lambda *args, **kwargs: Server())

    # When no server runs on the folder, then starting one says so on standard error
    local_state.embedded_database_url()
    captured = capsys.readouterr()
    assert f"Embedded PostgreSQL running, data in {tmp_path / 'pgdata'}" in captured.err
    assert captured.out == ""

    # And when one already runs there (its postmaster.pid names a live process), nothing is said
    (tmp_path / "pgdata").mkdir(exist_ok=True)
    (tmp_path / "pgdata" / "postmaster.pid").write_text(f"{os.getpid()}\n")
    local_state.embedded_database_url()
    assert capsys.readouterr().err == ""


def test_python_dash_m_demo_is_the_entry_point():
    # When the package runs as a script, then it parses its options (and --help stops there)
    done = subprocess.run(
        [sys.executable, "-m", "demo", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    for option in ("--persons", "--admin-username", "--port", "--wechat-api-base", "--rotate"):
        assert option in done.stdout
