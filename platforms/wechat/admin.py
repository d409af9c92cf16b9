"""WeChat's additions to the segment admin: the tag sync action and each segment's sync state.

Registered into profiles' segment admin (`profiles.admin.segment_extensions`), which must not
import the platforms; Django's admin autodiscovery loads this module. The action queues one
`wechat.sync_segment_tag` job per segment (one queued and one running at a time per segment and
account, as the nightly `wechat.sync_segment_tags` queues them too): each costs one WeChat call
per 50 followers, which no admin request should wait for. The segment's page shows whether its
sync waits or runs, and the outcome of the last one.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import Exists, TextField, Value
from django.db.models.expressions import OuterRef
from django.db.models.functions import Cast, Concat
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from procrastinate.contrib.django.models import ProcrastinateJob

from identity.admin.common import describe_error
from identity.exceptions import DomainError
from identity.models import Actor, App, AppKind
from jobs.selectors import job_in_progress
from platforms.wechat.models import WeChatTagSync
from platforms.wechat.tag_sync import queue_segment_tag_sync
from platforms.wechat.tasks import SYNC_LOCK_PREFIX
from profiles.admin.segment_extensions import (
    SegmentAdminExtension,
    register_segment_admin_extension,
)
from profiles.models import Segment

# Each segment queues one job; the confirmation page lists them all.
MAX_SEGMENTS = 20
TEMPLATE = "admin/wechat/segment_tag_sync.html"


class TagSyncForm(forms.Form):
    appid = forms.ModelChoiceField(
        label=gettext_lazy("Service account"),
        queryset=App.objects.filter(kind=AppKind.SERVICE_ACCOUNT).order_by("name"),
        to_field_name="appid",
        empty_label=gettext_lazy("Choose a service account"),
        help_text=gettext_lazy("The segment's followers of this account get its user tag."),
    )


def has_wechat_sync_permission(request) -> bool:
    user = request.user
    return user.has_perm("profiles.view_segment") and user.has_perm("wechat.change_wechattagsync")


@admin.action(
    description=gettext_lazy("Sync to a WeChat service-account tag"), permissions=["wechat_sync"]
)
def sync_wechat_tag(model_admin, request, queryset):
    segments = list(queryset.order_by("key")[: MAX_SEGMENTS + 1])
    if len(segments) > MAX_SEGMENTS:
        message = _("Sync at most %(count)d segments at a time.") % {"count": MAX_SEGMENTS}
        model_admin.message_user(request, message, messages.WARNING)
        return None
    form = TagSyncForm(request.POST if "apply" in request.POST else None)
    if not form.is_valid():
        return _choose_account_page(model_admin, request, segments, form)
    app = form.cleaned_data["appid"]
    actor = Actor.admin(request.user)
    for segment in segments:
        values = {"segment": segment.key, "app": app.name}
        try:
            queued = queue_segment_tag_sync(segment=segment, app=app, actor=actor)
        except DomainError as exc:
            model_admin.message_user(
                request, f"{segment.key}: {describe_error(exc)}", messages.ERROR
            )
            continue
        if queued:
            text = _(
                "%(segment)s: sync to the tag of %(app)s queued; the segment's page shows "
                "its progress and outcome."
            )
            model_admin.message_user(request, text % values, messages.SUCCESS)
        else:
            text = _("%(segment)s: a sync to %(app)s was already queued.")
            model_admin.message_user(request, text % values, messages.INFO)
    return None


def _choose_account_page(model_admin, request, segments: list[Segment], form: TagSyncForm):
    context = {
        **model_admin.admin_site.each_context(request),
        "title": _("Sync segments to a WeChat tag"),
        "opts": model_admin.model._meta,
        "segments": segments,
        "form": form,
        "selected": [segment.pk for segment in segments],
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "changelist_url": request.get_full_path(),
    }
    request.current_app = model_admin.admin_site.name
    return TemplateResponse(request, TEMPLATE, context)


def _syncs_with_job_state(segment: Segment) -> list[WeChatTagSync]:
    """The segment's syncs with their accounts, and whether each one's job waits or runs (an
    index probe of the queue each), in one query."""
    lock = Concat(
        Value(SYNC_LOCK_PREFIX),
        Cast(OuterRef("segment_id"), TextField()),
        Value(":"),
        Cast(OuterRef("app_id"), TextField()),
        output_field=TextField(),
    )
    return list(
        WeChatTagSync.objects.filter(segment=segment)
        .select_related("app")
        .annotate(
            in_progress=job_in_progress(lock),
            running=Exists(ProcrastinateJob.objects.filter(status="doing", lock=lock)),
        )
        .order_by("app__name")
    )


@admin.display(description=gettext_lazy("last sync per service account"))
def wechat_tags(segment: Segment):
    syncs = _syncs_with_job_state(segment)
    if not syncs:
        return _("Not synced to a WeChat tag yet (the action on the segment list does it).")
    return render_to_string("admin/wechat/segment_tag_syncs.html", {"syncs": syncs})


register_segment_admin_extension(
    SegmentAdminExtension(
        name="wechat",
        actions=(sync_wechat_tag,),
        fieldsets=((gettext_lazy("WeChat tags"), {"fields": ("wechat_tags",)}),),
        displays={"wechat_tags": wechat_tags},
        permissions={"wechat_sync": has_wechat_sync_permission},
    )
)
