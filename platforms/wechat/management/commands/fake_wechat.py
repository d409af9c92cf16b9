import contextlib
import signal
import threading

from django.core.management.base import BaseCommand

from identity.models import App, AppKind, Identity, UnionId
from platforms.wechat.test_double.server import FakeWeChatServer


class Command(BaseCommand):
    help = (
        "Run the fake WeChat server on loopback for the offline demo, knowing every app that "
        "has a secret here. Service accounts get the demo persons (and --followers new ones) as "
        "followers. POST /__fake__/login_code, oauth_code, phone_code make codes."
    )

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8081)
        parser.add_argument("--followers", type=int, default=200, help="Extra demo followers.")

    def handle(self, *args, port, followers, **options):
        server = FakeWeChatServer(port=port)
        state = server.state
        for app in App.objects.exclude(secret_encrypted=""):
            state.add_app(app.appid, app.get_secret())
            if app.kind == AppKind.SERVICE_ACCOUNT:
                self._seed_followers(state, app, followers)
        server.start()
        self.stdout.write(
            f"Fake WeChat on {server.base_url} with {len(state.apps)} apps "
            f"(WECHAT_API_BASE={server.base_url})."
        )
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()
        server.stop()

    @staticmethod
    def _seed_followers(state, app, extra):
        unionids = dict(UnionId.objects.values_list("person_id", "unionid"))
        for identity in Identity.objects.filter(app=app).order_by("pk"):
            state.add_follower(app.appid, identity.openid, unionid=unionids.get(identity.person_id))
        for number in range(extra):
            state.add_follower(
                app.appid, f"oDemoFollower{number:06d}", unionid=f"oDemoUnion{number:06d}"
            )
