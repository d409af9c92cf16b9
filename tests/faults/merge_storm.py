"""A merge storm, run as its own process by test_killed_workers until the test kills it.

`python -m tests.faults.merge_storm <threads> <person pk>...`: each thread merges random pairs
of the given persons (tombstones stand for their survivors) and now and then undoes one of the
latest merges, forever. A line of running totals is printed after every operation, so that the
test can see how far the storm got before the kill.
"""

import os
import random
import sys
import threading


def main(threads: int, pks: list[int]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django

    django.setup()

    from identity.exceptions import MergeConflict, UndoConflict
    from identity.models import Actor, MergeRecord, Person
    from identity.services.merge import merge_persons
    from identity.services.undo import undo_merge

    actor = Actor.system("merge_storm")
    totals = {"merges": 0, "undos": 0, "conflicts": 0, "errors": 0}
    lock = threading.Lock()

    def count(outcome: str, error: Exception | None = None) -> None:
        with lock:
            totals[outcome] += 1
            line = " ".join(f"{key}={value}" for key, value in totals.items())
            if error is not None:
                line += f" error={error!r}"
            print(line, flush=True)

    def storm(seed: int) -> None:
        rng = random.Random(seed)
        while True:
            try:
                if rng.random() < 0.25:
                    latest = list(MergeRecord.objects.filter(undone_at__isnull=True)[:5])
                    if latest:
                        undo_merge(record=rng.choice(latest), actor=actor)
                        count("undos")
                else:
                    first, second = rng.sample(pks, 2)
                    merge_persons(
                        first=Person(pk=first),
                        second=Person(pk=second),
                        reason="manual",
                        actor=actor,
                    )
                    count("merges")
            except (MergeConflict, UndoConflict):
                count("conflicts")
            except Exception as exc:
                count("errors", exc)

    workers = [threading.Thread(target=storm, args=(seed,), daemon=True) for seed in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()


if __name__ == "__main__":
    main(int(sys.argv[1]), [int(pk) for pk in sys.argv[2:]])
