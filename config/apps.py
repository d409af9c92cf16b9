from django.apps import AppConfig


class ConfigApp(AppConfig):
    """Hook the project-wide system checks and the admin's names of Django's and third-party
    apps in; the package holds no models."""

    name = "config"
    label = "config"
    verbose_name = "Configuration"

    def ready(self) -> None:
        from config import checks  # noqa: F401 - registers the checks
        from config.admin_names import name_admin_entries

        name_admin_entries()
