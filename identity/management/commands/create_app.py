import os

from django.core.management.base import BaseCommand, CommandError

from identity.exceptions import InvalidInput
from identity.models import Actor, AppKind, Platform
from identity.services.apps import provision_app


class Command(BaseCommand):
    help = "Register a client app (idempotent: an existing appid is updated, not duplicated)."

    def add_arguments(self, parser):
        parser.add_argument("appid")
        parser.add_argument("--kind", required=True, choices=AppKind.values)
        parser.add_argument("--name", required=True)
        parser.add_argument("--platform", default=Platform.WECHAT, choices=Platform.values)
        parser.add_argument(
            "--secret-from-env",
            metavar="VAR",
            help="Read the app secret from this environment variable (never from argv).",
        )

    def handle(self, *args, appid, kind, name, platform, secret_from_env, **options):
        secret = None
        if secret_from_env:
            secret = os.environ.get(secret_from_env)
            if not secret:
                raise CommandError(f"Environment variable {secret_from_env} is empty or unset.")
        try:
            app, created = provision_app(
                appid=appid,
                kind=kind,
                name=name,
                platform=platform,
                secret=secret,
                actor=Actor.system("create_app"),
            )
        except InvalidInput as exc:
            raise CommandError(_format(exc.details)) from exc
        verb = "Created" if created else "Updated"
        self.stdout.write(self.style.SUCCESS(f"{verb} {app.kind} app {app.appid} ({app.name})."))


def _format(details: dict) -> str:
    return "; ".join(f"{field}: {' '.join(messages)}" for field, messages in details.items())
