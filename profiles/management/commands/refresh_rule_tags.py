import time

from django.core.management.base import BaseCommand, CommandError

from identity.models import Actor
from profiles.models import Tag, TagKind
from profiles.services.rules import try_refresh_rule_tag


class Command(BaseCommand):
    help = (
        "Refresh rule tags set-wise (run from cron); --tag KEY refreshes one. A tag that fails "
        "is recorded on the tag and the others still refresh; the command then exits non-zero."
    )

    def add_arguments(self, parser):
        parser.add_argument("--tag", action="append", dest="tags", metavar="KEY")

    def handle(self, *args, tags, **options):
        rules = Tag.objects.filter(kind=TagKind.RULE).select_related("group").order_by("key")
        if tags:
            rules = rules.filter(key__in=tags)
            missing = sorted(set(tags) - set(rules.values_list("key", flat=True)))
            if missing:
                raise CommandError(f"Not rule tags: {', '.join(missing)}.")
        actor = Actor.system("refresh_rule_tags")
        failed = []
        for tag in rules:
            started = time.monotonic()
            result = try_refresh_rule_tag(tag=tag, actor=actor)
            if result.failed:
                failed.append(tag.key)
                self.stdout.write(f"{tag.key}: failed: {result.error}")
                continue
            self.stdout.write(
                f"{tag.key}: +{result.added} -{result.removed} ({time.monotonic() - started:.2f}s)"
            )
        if failed:
            raise CommandError(f"Rule tags not refreshed: {', '.join(failed)}.")
        self.stdout.write(self.style.SUCCESS("Rule tags refreshed."))
