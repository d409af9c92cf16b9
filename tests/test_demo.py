"""The demo loader (`python -m demo`): apps, persons, phones, events, an admin and one live key."""

import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest

from demo.load import load_demo
from identity.models import ApiKey, App, Identity, Person
from profiles.models import PersonStats

ROOT = Path(__file__).resolve().parents[1]


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
    assert "--persons" in done.stdout
    assert "--admin-username" in done.stdout
