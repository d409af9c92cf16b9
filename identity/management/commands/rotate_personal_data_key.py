import time

from django.core.management.base import BaseCommand, CommandError

from identity.models import Actor
from identity.services.key_rotation import rotate_personal_data_key, stale_counts


class Command(BaseCommand):
    help = (
        "Re-encrypt phones, app secrets and session keys under the first key of "
        "PERSONAL_DATA_KEYS (keep the old key listed until this is done). Resumable. With "
        "--check, change nothing and fail while values remain under an older key."
    )

    def add_arguments(self, parser):
        parser.add_argument("--check", action="store_true")
        parser.add_argument("--batch-size", type=int, default=1000)

    def handle(self, *args, check, batch_size, **options):
        if check:
            counts = stale_counts()
            for name, count in counts.items():
                self.stdout.write(f"{name}: {count} under an older key")
            if any(counts.values()):
                raise CommandError("Values remain under an older key: keep it until rotated.")
            self.stdout.write(self.style.SUCCESS("Everything is under the current key."))
            return
        started = time.monotonic()
        rewritten = rotate_personal_data_key(
            actor=Actor.system("rotate_personal_data_key"),
            batch_size=batch_size,
            progress=lambda name, done: self.stdout.write(f"  {name}: {done} re-encrypted"),
        )
        total = sum(rewritten.values())
        self.stdout.write(
            self.style.SUCCESS(
                f"Re-encrypted {total} values in {time.monotonic() - started:.1f}s. "
                "Run with --check, then remove the old key from PERSONAL_DATA_KEYS."
            )
        )
