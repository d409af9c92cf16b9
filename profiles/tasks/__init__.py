"""Background jobs of profiles (procrastinate autodiscovers `profiles.tasks`)."""

from profiles.tasks import pipeline, rules, schedule  # noqa: F401 - registers the jobs
