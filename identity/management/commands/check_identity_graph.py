import time

from django.core.management.base import BaseCommand, CommandError

from identity.integrity import checks


class Command(BaseCommand):
    help = "Verify every invariant of the identity graph and the stats; exit 1 on a violation."

    def handle(self, *args, **options):
        violations = 0
        for check in checks():
            started = time.monotonic()
            found = check.count()
            violations += found
            mark = (
                self.style.SUCCESS("ok") if not found else self.style.ERROR(f"{found} violations")
            )
            self.stdout.write(
                f"{check.name:36} {mark} ({time.monotonic() - started:.2f}s)  {check.description}"
            )
        if violations:
            raise CommandError(f"{violations} invariant violations.")
        self.stdout.write(self.style.SUCCESS(f"All {len(checks())} checks passed."))
