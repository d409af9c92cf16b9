"""Local, git-ignored state for a machine that runs the service without configuration.

`make run` and `make test` must work on a fresh machine with nothing but Python and make. For
that, the secrets that production passes in the environment are generated once into
`.local/dev-keys.json`, and PostgreSQL is an embedded server (the `pgserver` package) whose data
lives in `.local/pgdata`. Production never takes this path: `manage.py check --deploy` reports
any key that still comes from here.
"""

import base64
import json
import os
import secrets
import signal
import warnings
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
LOCAL_DIR = Path(os.environ.get("LOCAL_STATE_DIR", BASE_DIR / ".local"))
DEV_KEYS_FILE = LOCAL_DIR / "dev-keys.json"
PGDATA_DIR = LOCAL_DIR / "pgdata"


def dev_keys() -> dict[str, str]:
    """Return the local development keys, creating them atomically on first use."""
    if DEV_KEYS_FILE.exists():
        return json.loads(DEV_KEYS_FILE.read_text())
    LOCAL_DIR.mkdir(parents=True, exist_ok=True)
    keys = {
        "SECRET_KEY": secrets.token_urlsafe(50),
        "PERSONAL_DATA_KEYS": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        "BLIND_INDEX_KEY": secrets.token_urlsafe(32),
    }
    tmp = DEV_KEYS_FILE.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(keys, indent=2))
    tmp.chmod(0o600)
    try:
        # Two processes starting at once: the first link wins, the second reads it.
        os.link(tmp, DEV_KEYS_FILE)
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return json.loads(DEV_KEYS_FILE.read_text())


def embedded_database_url() -> str:
    """Start (or reuse) the embedded PostgreSQL server and return its URL.

    The server keeps running after this process exits (`cleanup_mode=None`), so that every
    manage.py command, the dev server and the test run share one server instead of paying a
    start-up each time. `make stop-db` stops it.
    """
    with warnings.catch_warnings():
        # platformdirs warns about a missing XDG_RUNTIME_DIR on headless machines; harmless.
        warnings.simplefilter("ignore")
        import pgserver

        PGDATA_DIR.parent.mkdir(parents=True, exist_ok=True)
        server = pgserver.get_server(PGDATA_DIR, cleanup_mode=None)
        return server.get_uri()


def stop_embedded_database() -> None:
    """Stop the embedded server if it runs (`make stop-db`); SIGINT is a fast shutdown."""
    pid_file = PGDATA_DIR / "postmaster.pid"
    if not pid_file.exists():
        print("The embedded PostgreSQL is not running.")
        return
    pid = int(pid_file.read_text().split()[0])
    try:
        os.kill(pid, signal.SIGINT)
    except ProcessLookupError:
        print("The embedded PostgreSQL is not running.")
        return
    print(f"Stopping the embedded PostgreSQL (pid {pid}).")
