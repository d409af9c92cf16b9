"""Load the demo: three apps, persons sharing unionids, some phones, a few weeks of events.

The persons and events are loaded once; every run prints the admin login and the API key,
kept across runs (demo/credentials.py), and the URLs of the service as `make run` serves it.
No event lies after the moment of loading. Writes go through the services, with their audit
entries, like any other.
"""

import random
import string
import sys
from datetime import timedelta
from pathlib import Path
from typing import TextIO

from django.db import transaction
from django.utils import timezone

from config import local_state
from demo.credentials import DemoCredentials, demo_credentials
from demo.summary import service_url, summary
from identity.models import Actor, App, AppKind, Identity
from identity.services.app_secrets import set_app_credentials
from identity.services.apps import provision_app
from identity.services.phone import bind_phone
from identity.services.resolve import resolve_identity
from identity.validators import MAX_BATCH
from profiles.services.ingest import ingest_events
from profiles.services.pipeline import apply_pending_events

DEMO_APPS = [
    ("wxd0000000000000a1", AppKind.MINIPROGRAM, "Demo shop mini-program"),
    ("wxd0000000000000a2", AppKind.SERVICE_ACCOUNT, "Demo service account"),
    ("wxd0000000000000a3", AppKind.H5, "Demo campaign pages"),
]
DEMO_CHANNELS = ("sa_article", "store_qr", "channels_video", "douyin", "share_card")
MOBILE_PREFIXES = ("135", "136", "137", "138", "139", "150", "186", "188")
ID_ALPHABET = string.ascii_letters + string.digits + "_-"


def load_demo(
    *,
    persons: int = 300,
    seed: int = 7,
    admin_username: str = "admin",
    host: str = "127.0.0.1",
    port: int = 8000,
    wechat_api_base: str | None = None,
    rotate: bool = False,
    credentials_file: Path | None = None,
    run_env_file: Path | None = None,
    out: TextIO | None = None,
) -> DemoCredentials:
    """Load the demo data (once) and print the admin login, the API key and the service's URLs.

    `host` and `port` are where the service listens (make run's HOST and PORT). A given
    `wechat_api_base` (make run's fake WeChat server) is written to `run_env_file`
    (`.local/run.env`), where manage.py started from another shell finds it.
    """
    out = out or sys.stdout
    actor = Actor.system("load_demo")
    apps = [
        provision_app(
            appid=appid, kind=kind, name=name, secret=f"demo-secret-{appid}", actor=actor
        )[0]
        for appid, kind, name in DEMO_APPS
    ]
    # A demo-only callback token, so that signed pushes can be tried locally.
    set_app_credentials(app=apps[1], callback_token="demotoken", actor=actor)  # noqa: S106
    existing = Identity.objects.filter(app__in=apps).count()
    if existing:
        _write(out, f"Demo persons already loaded ({existing} identities).")
    else:
        rng = random.Random(seed)  # noqa: S311 - demo data, not secrets
        _load_persons(apps, persons, rng, actor, out)
        _load_events(apps, rng, actor, out)
    credentials = demo_credentials(
        username=admin_username, actor=actor, rotate=rotate, path=credentials_file
    )
    if wechat_api_base:
        run_env_file = local_state.write_run_env(
            {"WECHAT_API_BASE": wechat_api_base}, path=run_env_file
        )
    _write(
        out,
        summary(
            credentials,
            base=service_url(host, port),
            wechat_api_base=wechat_api_base,
            run_env_file=run_env_file,
            app=apps[0],
        ),
    )
    return credentials


def _write(out: TextIO, text: str, ending: str = "\n") -> None:
    """Write a line the way a management command's stdout does (no doubled line ending)."""
    out.write(text if not ending or text.endswith(ending) else text + ending)


def _load_persons(
    apps: list[App], count: int, rng: random.Random, actor: Actor, out: TextIO
) -> None:
    _write(out, f"Loading {count} demo persons ", ending="")
    for number in range(count):
        unionid = _identifier(rng) if rng.random() < 0.8 else None
        member_of = [app for app in apps if rng.random() < 0.6] or [rng.choice(apps)]
        with transaction.atomic():
            person = None
            for app in member_of:
                person = resolve_identity(
                    app=app, openid=_identifier(rng), unionid=unionid, actor=actor
                ).person
            if rng.random() < 0.3:
                phone = f"{rng.choice(MOBILE_PREFIXES)}{rng.randrange(10**8):08d}"
                bind_phone(person=person, phone=phone, on_conflict="move", actor=actor)
        if number % 50 == 49:
            _write(out, ".", ending="")
            out.flush()
    _write(out, " done.")


def _load_events(apps: list[App], rng: random.Random, actor: Actor, out: TextIO) -> None:
    """A few weeks of funnel events per identity, so that stats and segments have data."""
    now = timezone.now()
    events = []
    identities = Identity.objects.filter(app__in=apps).select_related("app")
    for identity in identities:
        start = now - timedelta(days=rng.randrange(1, 120))
        channel = rng.choice(DEMO_CHANNELS)
        funnel = ["register", "login", "view", "view", "pay", "share", "coupon_claim"]
        for step, event_type in enumerate(funnel[: rng.randrange(1, len(funnel) + 1)]):
            at = start + timedelta(hours=step * rng.randrange(1, 48))
            if at > now:
                continue  # a recent newcomer has not got that far yet
            event = {
                "event_id": f"demo-{identity.pk}-{step}",
                "appid": identity.app.appid,
                "openid": identity.openid,
                "type": event_type,
                "occurred_at": at.isoformat(),
                "channel": channel if step == 0 else "",
            }
            if event_type == "pay":
                event["amount"] = f"{rng.randrange(990, 49900) / 100:.2f}"
            events.append(event)
        events += _return_visits(identity, start, now, rng)
    accepted = 0
    for start in range(0, len(events), MAX_BATCH):
        accepted += ingest_events(events=events[start : start + MAX_BATCH], actor=actor).accepted
    # Applied here rather than by the worker `make run` starts next: the demo opens with its
    # stats and rule tags in place.
    applied = apply_pending_events()
    _write(out, f"Loaded {accepted} demo events ({applied.events} applied to stats).")


def _return_visits(identity: Identity, start, now, rng: random.Random) -> list[dict]:
    """Later visits, fewer each week, and follows of the service account: so that retention,
    lifecycle and the settle rate of the Reports area show a shape, not a flat line."""
    events = []
    returning = rng.random()
    week = 1
    while start + timedelta(weeks=week) < now and rng.random() < 0.75 * returning:
        at = start + timedelta(weeks=week, hours=rng.randrange(0, 72))
        if at < now:
            type_ = rng.choice(("login", "view", "view", "pay"))
            event = {
                "event_id": f"demo-{identity.pk}-w{week}",
                "appid": identity.app.appid,
                "openid": identity.openid,
                "type": type_,
                "occurred_at": at.isoformat(),
            }
            if type_ == "pay":
                event["amount"] = f"{rng.randrange(990, 49900) / 100:.2f}"
            events.append(event)
        week += rng.choice((1, 1, 2))
    if identity.app.kind == AppKind.SERVICE_ACCOUNT and rng.random() < 0.6:
        followed = start + timedelta(hours=rng.randrange(1, 24 * 10))
        for number, type_ in enumerate(("subscribe", "unsubscribe")):
            if followed < now and (number == 0 or rng.random() < 0.2):
                events.append(
                    {
                        "event_id": f"demo-{identity.pk}-f{number}",
                        "appid": identity.app.appid,
                        "openid": identity.openid,
                        "type": type_,
                        "occurred_at": followed.isoformat(),
                    }
                )
            followed += timedelta(days=rng.randrange(3, 40))
    return events


def _identifier(rng: random.Random) -> str:
    """A WeChat-looking id: 'o' + 27 characters of the openid alphabet."""
    return "o" + "".join(rng.choice(ID_ALPHABET) for _ in range(27))
