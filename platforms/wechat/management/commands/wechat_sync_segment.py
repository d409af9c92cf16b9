from django.core.management.base import BaseCommand, CommandError

from identity.exceptions import InvalidInput
from identity.models import Actor, App
from platforms.wechat.tag_sync import sync_segment_tag
from profiles.models import Segment


class Command(BaseCommand):
    help = (
        "Mirror a segment as a user tag of a service account (create, tag joiners, untag leavers)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--segment", required=True, help="Segment key.")
        parser.add_argument("--appid", required=True, help="Service account appid.")

    def handle(self, *args, segment, appid, **options):
        seg = Segment.objects.filter(key=segment).first()
        app = App.objects.filter(appid=appid).first()
        if seg is None or app is None:
            raise CommandError(f"Unknown {'segment' if seg is None else 'appid'}.")
        try:
            sync = sync_segment_tag(segment=seg, app=app, actor=Actor.system("wechat_sync_segment"))
        except InvalidInput as exc:
            raise CommandError(" ".join(m for msgs in exc.details.values() for m in msgs)) from exc
        summary = (
            f"WeChat tag {sync.wechat_tag_id} ({sync.wechat_tag_name}): +{sync.last_added} "
            f"-{sync.last_removed}, {sync.last_failed} failed"
        )
        if sync.last_error:
            raise CommandError(f"{summary}; stopped: {sync.last_error}")
        self.stdout.write(self.style.SUCCESS(summary))
