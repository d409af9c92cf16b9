"""The names Django and third-party apps give their admin entries, in the staff's language.

Django's auth calls its accounts "users", 用户 in its Chinese: the word of our persons
(identity.Person), so here they are "staff users" (后台账号). django-axes and procrastinate name
their apps in English only, and procrastinate its model too. Only the names shown change:
migrations read Meta's own options (`original_attrs`), so no migration follows from this.

UPSTREAM lists msgids of Django and django-axes that their zh-hans catalogs lack: marked here,
makemessages keeps them in locale/, whose translations come before the apps' own (LOCALE_PATHS).
"""

from django.apps import apps
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

UPSTREAM = (
    # django/contrib/admin/templates/admin/app_list.html (Django 5.1), read by screen readers
    gettext_noop("Model name"),
    gettext_noop("Add link"),
    gettext_noop("Change or view list link"),
    # django-axes' models
    gettext_noop("access attempt"),
    gettext_noop("access attempts"),
    gettext_noop("access failure"),
    gettext_noop("access failures"),
    gettext_noop("access log"),
    gettext_noop("access logs"),
)


def name_admin_entries() -> None:
    """Give auth, axes and procrastinate the names the admin shows (config.apps calls this)."""
    staff = apps.get_model("auth", "User")._meta
    staff.verbose_name = _("staff user")
    staff.verbose_name_plural = _("staff users")
    apps.get_app_config("auth").verbose_name = _("Staff accounts")
    apps.get_app_config("axes").verbose_name = _("Login protection")
    apps.get_app_config("procrastinate").verbose_name = _("Job queue")
    queue_job = apps.get_model("procrastinate", "ProcrastinateJob")._meta
    queue_job.verbose_name = _("queue job")
    queue_job.verbose_name_plural = _("queue jobs")
