from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from profiles.services.prune import prune_events


class Command(BaseCommand):
    help = (
        "Delete raw events older than the retention period (EVENT_RETENTION_DAYS), folding "
        "them into rollups first so that stats survive. Safe to interrupt and re-run."
    )

    def add_arguments(self, parser):
        parser.add_argument("--older-than-days", type=int, default=None)
        parser.add_argument("--batch-size", type=int, default=50_000)

    def handle(self, *args, older_than_days, batch_size, **options):
        days = older_than_days if older_than_days is not None else settings.EVENT_RETENTION_DAYS
        if days < 1:
            raise CommandError("--older-than-days must be at least 1.")
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        cutoff = timezone.now() - timedelta(days=days)
        self.stdout.write(f"Pruning events that occurred before {cutoff:%Y-%m-%d %H:%M %Z}...")
        run = prune_events(
            cutoff=cutoff,
            batch_size=batch_size,
            progress=lambda total: self.stdout.write(f"  {total} events pruned so far"),
        )
        self.stdout.write(self.style.SUCCESS(f"Pruned {run.events_deleted} events."))
