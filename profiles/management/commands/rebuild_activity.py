import time
from datetime import date

from django.core.management.base import BaseCommand, CommandError

from identity.models import Person
from profiles.services.activity import activity_drift, rebuild_activity


class Command(BaseCommand):
    help = (
        "Recompute the daily activity rollup from applied events, on the days events still "
        "cover (pruned days keep their rows). With --check, change nothing and exit non-zero "
        "when stored rows differ from a rebuild."
    )

    def add_arguments(self, parser):
        parser.add_argument("--check", action="store_true", help="Compare only; change nothing.")
        parser.add_argument("--person", metavar="PUBLIC_ID", help="Only this person's rows.")
        parser.add_argument(
            "--since", metavar="YYYY-MM-DD", help="Only local days from this one on."
        )

    def handle(self, *args, check, person, since, **options):
        person_ids = [self._person_pk(person)] if person else None
        days = (self._day(since), None) if since else None
        started = time.monotonic()
        if check:
            self.stdout.write("Comparing daily activity with a rebuild from events...")
            pairs = activity_drift(person_ids=person_ids, days=days)
            persons = len({person for person, _ in pairs})
            summary = f"{len(pairs)} person-days of {persons} persons differed"
            if pairs:
                raise CommandError(f"Activity drift: {summary}.")
            self.stdout.write(self.style.SUCCESS(f"Checked: {summary}, {self._took(started)}."))
            return
        self.stdout.write("Rebuilding daily activity from events...")
        rewritten = rebuild_activity(person_ids=person_ids, days=days, progress=self._report)
        self.stdout.write(
            self.style.SUCCESS(
                f"Rebuilt: {rewritten} person-days differed and were rewritten, "
                f"{self._took(started)}."
            )
        )

    def _report(self, done: int, batches: int, rewritten: int) -> None:
        self.stdout.write(f"  batch {done}/{batches}: {rewritten} person-days rewritten so far")

    @staticmethod
    def _person_pk(public_id: str) -> int:
        pk = Person.objects.filter(public_id=public_id).values_list("pk", flat=True).first()
        if pk is None:
            raise CommandError("No person has that public id.")
        return pk

    @staticmethod
    def _day(text: str) -> date:
        try:
            return date.fromisoformat(text)
        except ValueError:
            raise CommandError("--since must be a date, YYYY-MM-DD.") from None

    @staticmethod
    def _took(started: float) -> str:
        return f"{time.monotonic() - started:.1f}s"
