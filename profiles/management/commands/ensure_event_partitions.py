from django.core.management.base import BaseCommand, CommandError

from profiles.services.partitions import ensure_partitions


class Command(BaseCommand):
    help = (
        "Create the monthly partitions of the event table for this month and the next ones "
        "(the worker's schedule runs this daily). Idempotent."
    )

    def add_arguments(self, parser):
        parser.add_argument("--months-ahead", type=int, default=3)

    def handle(self, *args, months_ahead, **options):
        if months_ahead < 0:
            raise CommandError("--months-ahead must not be negative.")
        created = ensure_partitions(months_ahead=months_ahead)
        for name in created:
            self.stdout.write(f"  created {name}")
        self.stdout.write(self.style.SUCCESS(f"{len(created)} partitions created."))
