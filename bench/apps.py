from django.apps import AppConfig


class BenchConfig(AppConfig):
    """Benchmark tooling: the data-set seeder (`manage.py bench_seed`). No models."""

    name = "bench"
