from django.core.management.base import BaseCommand

from profiles.services.segments import snapshot_segments


class Command(BaseCommand):
    help = "Record today's size of every segment (run daily from cron; re-runs overwrite)."

    def handle(self, *args, **options):
        for snapshot in snapshot_segments():
            self.stdout.write(f"{snapshot.segment.key}: {snapshot.count} on {snapshot.day}")
        self.stdout.write(self.style.SUCCESS("Segment sizes recorded."))
