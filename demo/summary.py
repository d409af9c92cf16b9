"""The lines `python -m demo` ends with: the URLs as `make run` serves them, the login, the key."""

from pathlib import Path

from django.conf import settings
from django.core.management.color import color_style

from config import local_state
from demo.credentials import DemoCredentials
from identity.models import App, Identity

# Addresses a server listens on, not ones a browser goes to (nor ALLOWED_HOSTS accepts).
WILDCARD_HOSTS = {"", "0.0.0.0", "::", "[::]"}  # noqa: S104 - compared, not bound


def service_url(host: str, port: int | str) -> str:
    """The URL a browser on this machine opens for a server listening on host:port."""
    host = "127.0.0.1" if host in WILDCARD_HOSTS else host
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # an IPv6 address
    return f"http://{host}:{port}"


def summary(
    credentials: DemoCredentials,
    *,
    base: str,
    wechat_api_base: str | None,
    run_env_file: Path | None,
    app: App,
) -> str:
    """What the demo prints once it is loaded: where to go, how to log in, what runs where."""
    password = credentials.password or "(the password set in the admin)"
    if wechat_api_base and run_env_file:
        wechat = (
            f"the fake WeChat server on {wechat_api_base}, for manage.py in another shell "
            f"too ({local_state.shown_path(run_env_file)}; see README, Demo)"
        )
    else:
        wechat = settings.WECHAT_API_BASE
    lines = [
        color_style().SUCCESS("\nThe service is ready."),
        f"  Admin:    {base}/admin/  login {credentials.username} / {password}"
        f"  ({credentials.password_note})",
        f"  API key:  {credentials.api_key}  ({credentials.key_note})",
        f"  Kept in:  {local_state.shown_path(credentials.path)} "
        "(python -m demo --rotate or make run ROTATE=1 makes new ones)",
        f"  API docs: {base}/api/v1/docs/",
        f"  WeChat:   {wechat}",
    ]
    if local_state.uses_embedded_database():
        lines.append(
            "  Database: embedded PostgreSQL, data in "
            f"{local_state.shown_path(local_state.PGDATA_DIR)} (stop with make stop-db)"
        )
    lines.append(
        f'  Try:      curl -H "Authorization: Bearer {credentials.api_key}" '
        f'"{base}/api/v1/persons/lookup?appid={app.appid}&openid={_sample_openid(app)}"'
    )
    return "\n".join(lines) + "\n"


def _sample_openid(app: App) -> str:
    identity = Identity.objects.filter(app=app).order_by("pk").first()
    return identity.openid if identity else ""
