from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from profiles.services.prune import DROPPED, prune_events


class Command(BaseCommand):
    help = (
        "Fold the events of whole months older than the retention period (EVENT_RETENTION_DAYS) "
        "into rollups, so that stats survive, and drop their partitions. A month is pruned once "
        "it ended before the cutoff. Safe to interrupt and re-run."
    )

    def add_arguments(self, parser):
        parser.add_argument("--older-than-days", type=int, default=None)

    def handle(self, *args, older_than_days, **options):
        days = older_than_days if older_than_days is not None else settings.EVENT_RETENTION_DAYS
        if days < 1:
            raise CommandError("--older-than-days must be at least 1.")
        cutoff = timezone.now() - timedelta(days=days)
        self.stdout.write(f"Pruning months that ended before {cutoff:%Y-%m-%d %H:%M %Z}...")
        run = prune_events(cutoff=cutoff, progress=self._report)
        skipped = [outcome for outcome in run.outcomes if outcome.status != DROPPED]
        summary = f"Pruned {run.events_deleted} events."
        if skipped:
            names = ", ".join(f"{outcome.name} ({outcome.status})" for outcome in skipped)
            self.stdout.write(self.style.WARNING(f"{summary} Skipped: {names}."))
        else:
            self.stdout.write(self.style.SUCCESS(summary))

    def _report(self, outcome):
        if outcome.status == DROPPED:
            self.stdout.write(f"  {outcome.name}: {outcome.events} events folded, dropped")
        else:
            self.stdout.write(f"  {outcome.name}: skipped ({outcome.status})")
