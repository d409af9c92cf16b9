from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from identity.models import AppKind, Identity
from identity.services.app_secrets import set_app_credentials
from identity.services.resolve import resolve_identity
from tests.platforms.wechat.conftest import SERVICE

pytestmark = pytest.mark.django_db

OLD = "wx9999999999999999"


@pytest.fixture
def old_account(make_app, fake_wechat, wechat_apps, actor):
    app = make_app(OLD, AppKind.SERVICE_ACCOUNT, "Old service account")
    set_app_credentials(app=app, secret="old-secret-0123456789", actor=actor)
    return app


def test_openids_of_the_old_account_map_to_the_new_one(
    fake_wechat, old_account, service_account, actor
):
    persons = {}
    for number in range(130):
        openid = f"oOld{number:04d}"
        persons[openid] = resolve_identity(app=old_account, openid=openid, actor=actor).person
        if number != 7:  # WeChat knows no new openid for this one
            fake_wechat.openid_changes[(OLD, openid)] = f"oNew{number:04d}"
    Identity.objects.filter(app=old_account).update(followed=True)
    # someone already logged in with a new openid: the same human, merged
    resolve_identity(app=service_account, openid="oNew0003", actor=actor)

    out = StringIO()
    call_command("wechat_change_openid", from_appid=OLD, appid=SERVICE, stdout=out)

    assert "128 mapped, 1 merged, 0 already done, 1 failed" in out.getvalue()
    new = Identity.objects.get(app__appid=SERVICE, openid="oNew0042")
    assert new.person_id == persons["oOld0042"].pk
    assert new.followed is True
    assert fake_wechat.calls.count("/cgi-bin/changeopenid") == 2  # 100 + 30

    again = StringIO()
    call_command("wechat_change_openid", from_appid=OLD, appid=SERVICE, stdout=again)
    assert "0 mapped" in again.getvalue()


def test_bad_arguments(old_account):
    with pytest.raises(CommandError):
        call_command("wechat_change_openid", from_appid="wxnope", appid=SERVICE, stdout=StringIO())
    with pytest.raises(CommandError):
        call_command("wechat_change_openid", from_appid=OLD, appid=OLD, stdout=StringIO())
