"""Local, git-ignored state for a machine that runs the service without configuration.

`make run` and `make test` must work on a fresh machine with nothing but Python and make. For
that, the secrets that production passes in the environment are generated once into
`.local/dev-keys.json`, and PostgreSQL is an embedded server (the `pgserver` package) whose data
lives in `.local/pgdata`. Production never takes this path: `manage.py check --deploy` reports
any key that still comes from here.

`make run` also writes `.local/run.env`, the variables its processes run with (the fake WeChat
server's `WECHAT_API_BASE`), so that `manage.py` in another shell talks to the same services.
manage.py reads it on a local run only (see `load_run_env`); the WSGI application never does.
"""

import base64
import json
import os
import secrets
import signal
import sys
import warnings
from pathlib import Path
from typing import TextIO

from config.env import env_bool, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
LOCAL_DIR = Path(os.environ.get("LOCAL_STATE_DIR", BASE_DIR / ".local"))
DEV_KEYS_FILE = LOCAL_DIR / "dev-keys.json"
PGDATA_DIR = LOCAL_DIR / "pgdata"
RUN_ENV_FILE = LOCAL_DIR / "run.env"


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


def write_private_file(path: Path, text: str) -> None:
    """Replace `path` atomically with `text`, readable by its owner only (mode 0600)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(tmp, path)


def write_run_env(values: dict[str, str], path: Path | None = None) -> Path:
    """Write the variables of this local run for `manage.py` in other shells (`load_run_env`)."""
    path = path or RUN_ENV_FILE
    lines = [
        "# Written by `make run` (python -m demo): the variables its web server and worker use.",
        "# manage.py reads them on a local run (no DATABASE_URL, or DEBUG on), each only when",
        "# the environment does not set it. Rewritten by every `make run`.",
        *(f"{name}={value}" for name, value in sorted(values.items())),
    ]
    write_private_file(path, "\n".join(lines) + "\n")
    return path


def is_local_run() -> bool:
    """Whether this process runs on a development machine rather than in production.

    A local run has no DATABASE_URL (the embedded database) or DEBUG on. Production sets
    DATABASE_URL and leaves DEBUG off, so a run.env left in a production checkout by a demo run
    is never read there.
    """
    return uses_embedded_database() or env_bool("DEBUG")


def uses_embedded_database() -> bool:
    """Whether the settings take the embedded server (no DATABASE_URL), as they decide it."""
    return env_str("DATABASE_URL") is None


def load_run_env(path: Path | None = None) -> dict[str, str]:
    """Set the variables of `.local/run.env` that the environment does not set, on a local run.

    An explicit variable always wins, an empty one too. Returns what was set.
    """
    path = path or RUN_ENV_FILE
    if not is_local_run() or not path.is_file():
        return {}
    applied = {}
    for line in path.read_text().splitlines():
        name, sep, value = line.strip().partition("=")
        name = name.strip()
        if not sep or not name or name.startswith("#") or name in os.environ:
            continue
        os.environ[name] = applied[name] = value.strip()
    return applied


def embedded_database_url() -> str:
    """Start (or reuse) the embedded PostgreSQL server and return its URL.

    The server keeps running after this process exits (`cleanup_mode=None`), so that every
    manage.py command, the dev server and the test run share one server instead of paying a
    start-up each time. `make stop-db` stops it. Starting it says so, with its data folder, on
    standard error (standard output stays the command's own).
    """
    with warnings.catch_warnings():
        # platformdirs warns about a missing XDG_RUNTIME_DIR on headless machines; harmless.
        warnings.simplefilter("ignore")
        import pgserver

        PGDATA_DIR.parent.mkdir(parents=True, exist_ok=True)
        was_running = _postmaster_pid(PGDATA_DIR) is not None
        server = pgserver.get_server(PGDATA_DIR, cleanup_mode=None)
        if not was_running:
            announce_embedded_database(PGDATA_DIR)
        return server.get_uri()


def announce_embedded_database(data_dir: Path, out: TextIO | None = None) -> None:
    """Say that an embedded PostgreSQL runs, where its data lives and how to stop it."""
    out = out or sys.stderr
    out.write(
        f"Embedded PostgreSQL running, data in {shown_path(data_dir)} (stop with make stop-db)\n"
    )
    out.flush()


def shown_path(path: Path) -> str:
    """The path relative to the working directory when inside it (`.local/pgdata`)."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _postmaster_pid(data_dir: Path) -> int | None:
    """The pid of the server running on `data_dir`, or None when none runs."""
    try:
        pid = int((data_dir / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid  # alive, under another user (pgserver runs it as `pgserver` under root)
    return pid


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
