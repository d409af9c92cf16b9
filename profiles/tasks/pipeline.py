"""The pipeline job: apply pending events (a thin wrapper; the work is in services.pipeline)."""

from procrastinate import RetryStrategy
from procrastinate.contrib.django import app

from profiles.services import pipeline


@app.task(
    name="profiles.apply_pending_events",
    queue="pipeline",
    # A failed chunk rolled back whole: trying again is always safe, and the minute sweep
    # enqueues a new job anyway once these attempts are spent.
    retry=RetryStrategy(max_attempts=5, exponential_wait=2),
)
def apply_pending_events_job() -> dict:
    done = pipeline.apply_pending_events(seconds=pipeline.JOB_SECONDS)
    return {"rows": done.rows, "events": done.events, "persons": done.persons}
