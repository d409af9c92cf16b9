"""The demo's admin login and API key, kept across runs in `.local/demo-credentials.json`.

A rerun of `make run` must not lock out whoever copied the last login or key: both are kept and
printed again. The database stores only a hash of an API key, so the demo keeps the raw key
(and the admin password) in a file of the local state, readable by its owner only, next to the
development keys. `python -m demo --rotate` (`make run ROTATE=1`) makes new ones on purpose.
"""

import json
import secrets
from dataclasses import dataclass
from pathlib import Path

from django.contrib.auth import get_user_model

from config import local_state
from config.api.scopes import ALL_SCOPES
from identity.models import Actor, ApiKey
from identity.models.api_keys import hash_key
from identity.services.api_keys import create_api_key, revoke_api_key

CREDENTIALS_FILE = local_state.LOCAL_DIR / "demo-credentials.json"
DEMO_KEY_NAME = "demo (all scopes)"


@dataclass(frozen=True)
class DemoCredentials:
    username: str
    password: str | None  # None: a password set in the admin since, which the demo keeps
    password_note: str
    api_key: str
    key_note: str
    path: Path


def demo_credentials(
    *, username: str, actor: Actor, rotate: bool = False, path: Path | None = None
) -> DemoCredentials:
    """Return the demo admin's login and the demo API key, keeping last run's unless `rotate`."""
    path = path or CREDENTIALS_FILE
    stored = _read(path)
    passwords = dict(stored.get("admin_passwords") or {})
    password, password_note = _admin_password(username, passwords.get(username), rotate=rotate)
    api_key, key_note = _api_key(stored.get("api_key"), actor=actor, rotate=rotate)
    if password is not None:
        passwords[username] = password
    kept = {"admin_passwords": passwords, "api_key": api_key}
    if kept != stored:
        local_state.write_private_file(path, json.dumps(kept, indent=2) + "\n")
    return DemoCredentials(username, password, password_note, api_key, key_note, path)


def _read(path: Path) -> dict:
    try:
        stored = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return stored if isinstance(stored, dict) else {}


def _admin_password(username: str, stored: str | None, *, rotate: bool) -> tuple[str | None, str]:
    """Keep the saved password (a new database gets it too); keep one changed in the admin."""
    user, created = get_user_model().objects.get_or_create(username=username)
    user.is_staff = user.is_superuser = True
    if stored and not rotate and (created or user.check_password(stored)):
        password, note = stored, "kept from the last run"
        if created:  # a new database: the same login as before
            user.set_password(password)
    elif stored and not rotate and user.has_usable_password():
        user.save()
        return None, "changed in the admin since, kept"
    else:
        password, note = secrets.token_urlsafe(12), "new"
        user.set_password(password)
    user.save()
    return password, note


def _api_key(stored: str | None, *, actor: Actor, rotate: bool) -> tuple[str, str]:
    """Keep the saved key while it is live with every scope; else revoke the demo's old keys,
    whose raw values are lost, and issue one."""
    live = ApiKey.objects.filter(name=DEMO_KEY_NAME, revoked_at__isnull=True)
    if stored and not rotate:
        key = live.filter(key_hash=hash_key(stored)).first()
        if key and set(key.scopes) == set(ALL_SCOPES) and not key.apps.exists():
            return stored, "kept from the last run"
    revoked = 0
    for key in live:
        revoke_api_key(key=key, actor=actor)
        revoked += 1
    _, raw_key = create_api_key(name=DEMO_KEY_NAME, scopes=ALL_SCOPES, actor=actor)
    return raw_key, "new" + (f", {revoked} earlier demo key(s) revoked" if revoked else "")
