import time

from django.core.management.base import BaseCommand, CommandError

from profiles.services.stats_rebuild import rebuild_all_stats


class Command(BaseCommand):
    help = (
        "Recompute every person's stats from events and rollups. With --check, change nothing "
        "and exit non-zero when the stored stats differ from a rebuild."
    )

    def add_arguments(self, parser):
        parser.add_argument("--check", action="store_true", help="Compare only; roll back.")

    def handle(self, *args, check, **options):
        started = time.monotonic()
        self.stdout.write("Rebuilding stats from events and rollups...")
        persons, differing = rebuild_all_stats(dry_run=check)
        elapsed = time.monotonic() - started
        summary = f"{persons} persons with stats, {differing} rows differed, {elapsed:.1f}s."
        if check and differing:
            raise CommandError(f"Stats drift: {summary}")
        verb = "Checked" if check else "Rebuilt"
        self.stdout.write(self.style.SUCCESS(f"{verb}: {summary}"))
