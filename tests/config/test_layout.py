"""The layout of STYLE.md that settings can show: benchmark tooling is no part of the product."""

from django.conf import settings


def test_bench_is_not_an_installed_app_of_the_product():
    assert "bench" not in settings.INSTALLED_APPS
    assert not any(app.startswith("bench.") for app in settings.INSTALLED_APPS)
