import time

from django.core.management.base import BaseCommand, CommandError

from identity.exceptions import InvalidInput
from identity.models import Actor, App
from platforms.wechat.errors import WeChatError
from platforms.wechat.services.follower_import import Progress, import_followers


class Command(BaseCommand):
    help = (
        "Import the followers of a service account: resolve everyone (with unionids) and mark "
        "them as following. An interrupted import resumes where it stopped."
    )

    def add_arguments(self, parser):
        parser.add_argument("--appid", required=True)
        parser.add_argument("--restart", action="store_true", help="Start over from page one.")

    def handle(self, *args, appid, restart, **options):
        app = App.objects.filter(appid=appid).first()
        if app is None:
            raise CommandError(f"Unknown appid {appid!r}.")
        started = time.monotonic()
        last_report = [0.0]

        def report(progress: Progress) -> None:
            now = time.monotonic()
            if now - last_report[0] >= 1 or progress.seen == progress.total:
                last_report[0] = now
                rate = progress.seen / max(now - started, 1e-6)
                self.stdout.write(
                    f"  {progress.seen}/{progress.total} followers, {progress.created} new "
                    f"persons, {progress.errors} errors ({rate:.0f}/s)"
                )

        try:
            run = import_followers(
                app=app,
                actor=Actor.system("wechat_import_followers"),
                restart=restart,
                progress=report,
            )
        except (InvalidInput, WeChatError) as exc:
            raise CommandError(str(getattr(exc, "message", exc))) from exc
        elapsed = time.monotonic() - started
        self.stdout.write(
            self.style.SUCCESS(
                f"Imported {run.followers_seen} followers of {app.appid} in {elapsed:.2f}s: "
                f"{run.persons_created} new persons, {run.errors} errors, {run.pages_done} pages."
            )
        )
