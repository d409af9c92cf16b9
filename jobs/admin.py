"""Admin of the background work: the schedule with "run now", the queue's state, run history.

procrastinate's own admin (procrastinate.contrib.django, autodiscovered on the default admin
site like ours) lists every queue job with its events and retry/cancel actions; the schedule
page links to it by status.
"""

import logging

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from jobs import schedule, selectors
from jobs.models import JobRun, ScheduledJob

logger = logging.getLogger(__name__)

RUN_PERMISSION = "jobs.run_scheduled_job"
# Procrastinate's job statuses, by the names the schedule page gives them.
QUEUE_STATUSES = {
    "todo": pgettext_lazy("queue job", "waiting"),
    "doing": pgettext_lazy("queue job", "running"),
    "succeeded": pgettext_lazy("queue job", "succeeded"),
    "failed": pgettext_lazy("queue job", "failed"),
    "cancelled": pgettext_lazy("queue job", "cancelled"),
    "aborted": pgettext_lazy("queue job", "aborted"),
}


class _NoWrites:
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class TaskFilter(admin.SimpleListFilter):
    """Filter by scheduled job (the names in the schedule, not a scan of the history)."""

    title = _("job")
    parameter_name = "task_name"

    def lookups(self, request, model_admin):
        return [(name, name) for name in sorted(schedule.SCHEDULE)]

    def queryset(self, request, queryset):
        return queryset.filter(task_name=self.value()) if self.value() else queryset


@admin.register(JobRun)
class JobRunAdmin(_NoWrites, admin.ModelAdmin):
    list_display = ("task_name", "started_at", "duration", "outcome", "error")
    list_filter = (TaskFilter, "outcome")
    show_full_result_count = False
    fields = (
        "task_name",
        "job_id",
        "started_at",
        "finished_at",
        "duration",
        "outcome",
        "error",
        "result",
    )
    readonly_fields = fields


@admin.register(ScheduledJob)
class ScheduledJobAdmin(_NoWrites, admin.ModelAdmin):
    """The "Scheduled jobs" page: one row per periodic job, the queue's state above them."""

    def get_urls(self):
        run = self.admin_site.admin_view(require_POST(self.run_now_view))
        return [path("<str:name>/run/", run, name="jobs_scheduledjob_run"), *super().get_urls()]

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_permission(request):
            raise PermissionDenied
        jobs = sorted(schedule.SCHEDULE.values(), key=lambda job: job.name)
        runs = selectors.latest_runs([job.name for job in jobs])
        state = selectors.queue_state()
        job_list = reverse("admin:procrastinate_procrastinatejob_changelist")
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Scheduled jobs"),
            "rows": [{"job": job, "run": runs.get(job.name)} for job in jobs],
            "state": state,
            "statuses": [
                (name, state.by_status.get(status, 0), f"{job_list}?status={status}")
                for status, name in QUEUE_STATUSES.items()
            ],
            "job_list": job_list,
            "can_run": request.user.has_perm(RUN_PERMISSION),
            "history": reverse("admin:jobs_jobrun_changelist"),
            "time_zone": settings.TIME_ZONE,
            **(extra_context or {}),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/jobs/schedule.html", context)

    def run_now_view(self, request, name: str):
        if not request.user.has_perm(RUN_PERMISSION):
            raise PermissionDenied
        job = schedule.get(name)
        if job is None:
            raise Http404
        if schedule.run_now(job):
            logger.info("Run now of %s requested by admin user %s", name, request.user.pk)
            self.message_user(request, gettext("%(job)s is queued.") % {"job": name})
        else:
            self.message_user(
                request,
                gettext("%(job)s was already waiting to run.") % {"job": name},
                level=messages.WARNING,
            )
        return HttpResponseRedirect(reverse("admin:jobs_scheduledjob_changelist"))
