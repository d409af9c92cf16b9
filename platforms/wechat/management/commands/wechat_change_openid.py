from django.core.management.base import BaseCommand, CommandError

from identity.exceptions import InvalidInput
from identity.models import Actor, App
from platforms.wechat.errors import WeChatError
from platforms.wechat.services.openid_migration import migrate_openids


class Command(BaseCommand):
    help = (
        "After a service-account migration, map every openid of the old account (--from-appid) "
        "to the new account (--appid) with WeChat's changeopenid. Safe to re-run."
    )

    def add_arguments(self, parser):
        parser.add_argument("--from-appid", required=True, dest="from_appid")
        parser.add_argument("--appid", required=True, help="The new service account.")

    def handle(self, *args, from_appid, appid, **options):
        app = App.objects.filter(appid=appid).first()
        if app is None:
            raise CommandError(f"Unknown appid {appid!r}.")

        def report(counts):
            self.stdout.write(
                f"  mapped {counts.mapped}, merged {counts.merged}, "
                f"skipped {counts.skipped}, failed {counts.failed}"
            )

        try:
            counts = migrate_openids(
                app=app,
                from_appid=from_appid,
                actor=Actor.system("wechat_change_openid"),
                progress=report,
            )
        except InvalidInput as exc:
            raise CommandError(" ".join(m for msgs in exc.details.values() for m in msgs)) from exc
        except WeChatError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"Openids of {from_appid} mapped to {appid}: {counts.mapped} mapped, "
                f"{counts.merged} merged, {counts.skipped} already done, {counts.failed} failed."
            )
        )
