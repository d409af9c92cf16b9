from django.apps import AppConfig


class ConfigApp(AppConfig):
    """Hook the project-wide system checks in; the package holds no models."""

    name = "config"
    label = "config"
    verbose_name = "Configuration"

    def ready(self) -> None:
        from config import checks  # noqa: F401 - registers the checks
