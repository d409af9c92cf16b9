from django.core.management.base import BaseCommand, CommandError

from config.api.scopes import ALL_SCOPES
from identity.exceptions import InvalidInput
from identity.management.commands.create_app import _format
from identity.models import Actor
from identity.services.api_keys import create_api_key


def _comma_list(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


class Command(BaseCommand):
    help = (
        "Create an API key and print it once (only its hash is stored). "
        f"Scopes: {', '.join(ALL_SCOPES)}, or 'all'."
    )

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--scopes", required=True, type=_comma_list)
        parser.add_argument("--apps", default=[], type=_comma_list, help="Restrict to appids.")

    def handle(self, *args, name, scopes, apps, **options):
        if scopes == ["all"]:
            scopes = list(ALL_SCOPES)
        try:
            key, raw = create_api_key(
                name=name, scopes=scopes, appids=apps, actor=Actor.system("create_api_key")
            )
        except InvalidInput as exc:
            raise CommandError(_format(exc.details)) from exc
        self.stderr.write(
            f"Created key {key.prefix} ({', '.join(key.scopes)}"
            f"{'; apps ' + ', '.join(apps) if apps else ''}). It is shown once:"
        )
        self.stdout.write(raw)
