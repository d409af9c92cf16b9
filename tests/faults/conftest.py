"""Helpers for fault tests: run manage.py and the service as separate processes."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection


def service_env(database_url: str, **extra: str) -> dict[str, str]:
    """Environment of a child process of the service, pointed at `database_url`."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "PYTHONUNBUFFERED": "1",
        **extra,
    }
    env.pop("REDIS_URL", None)
    return env


def manage(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess:
    """Run `manage.py` in a child process and return its outcome (output captured)."""
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def spawn(args: list[str], *, env: dict[str, str], output: Path) -> subprocess.Popen:
    """Start a child process (its own process group) writing stdout and stderr to `output`."""
    with output.open("wb") as sink:
        return subprocess.Popen(
            args,
            cwd=settings.BASE_DIR,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def spawn_gunicorn(
    port: int,
    *,
    env: dict[str, str],
    output: Path,
    workers: int = 1,
    threads: int = 2,
    timeout: int = 30,
) -> subprocess.Popen:
    """Serve the service as production does (gunicorn, gthread workers) on 127.0.0.1:`port`."""
    args = [
        sys.executable,
        "-m",
        "gunicorn",
        "config.wsgi:application",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        "--worker-class",
        "gthread",
        "--timeout",
        str(timeout),
        "--no-control-socket",
    ]
    return spawn(args, env=env, output=output)


def stop(process: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    """Stop a child process started by `spawn` and everything it started."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def url_of(settings_dict: dict) -> str:
    """The DATABASE_URL of a Django database configuration (the test database's NAME)."""
    user = quote(settings_dict.get("USER") or "", safe="")
    password = quote(settings_dict.get("PASSWORD") or "", safe="")
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = settings_dict.get("HOST") or ""
    name = quote(settings_dict["NAME"], safe="")
    if host.startswith("/"):
        return f"postgresql://{auth}/{name}?host={quote(host)}"
    port = f":{settings_dict['PORT']}" if settings_dict.get("PORT") else ""
    return f"postgresql://{auth}{host}{port}/{name}"


@pytest.fixture
def child_env():
    """Environment for children that share the test database (committed data only)."""
    return service_env(url_of(connection.settings_dict))
