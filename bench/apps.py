from django.apps import AppConfig


class BenchConfig(AppConfig):
    """Benchmark tooling: the data-set seeder (`manage.py bench_seed`), installed only by
    bench.settings, never in production. No models."""

    name = "bench"
