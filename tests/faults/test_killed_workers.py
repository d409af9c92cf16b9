"""A worker killed (SIGKILL) mid-way leaves no half-done work: every transaction is whole.

The workers run as separate processes on the suite's test database, so the data they see is
what the test committed (transactional tests), and what they leave is what PostgreSQL kept after
their connections died.
"""

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection
from django.db.models import Count

from identity.models import AppKind, Identity, MergeRecord, Person, UnionId
from identity.selectors import get_person
from identity.services.app_secrets import set_app_credentials
from identity.services.apps import provision_app
from identity.services.resolve import resolve_identity
from platforms.wechat.models import FollowerImport
from platforms.wechat.test_double.server import FakeWeChatServer
from platforms.wechat.test_double.state import FakeWeChatState
from profiles.models import Event, Tag, TagKind
from profiles.services.definitions import save_tag
from profiles.services.ingest import ingest_events
from profiles.services.tags import assign_tags
from tests.clock import iso_ago
from tests.faults.conftest import manage, spawn, stop

# serialized_rollback: the flush after a transactional test must not drop migration data
# (built-in event types, preset tags) that later tests rely on.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

APPS = {
    "wx1111111111111111": AppKind.MINIPROGRAM,
    "wx2222222222222222": AppKind.SERVICE_ACCOUNT,
    "wx3333333333333333": AppKind.H5,
}
PERSONS = 300
STORM_THREADS = 8
# Mid-way: the storm has merged a fair number of pairs and undone some (its totals line shows
# them), whatever the machine's speed.
MID_STORM = r"merges=(?:[2-9]\d|\d{3,}) undos=[1-9]"
FOLLOWERS = 4000
KILL_AT_FOLLOWERS = 1000


def _last_line(output: Path, pattern: str) -> re.Match | None:
    matches = list(re.finditer(pattern, output.read_text()))
    return matches[-1] if matches else None


def _wait_for_output(process, output: Path, pattern: str, seconds: float = 30) -> re.Match:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        match = _last_line(output, pattern)
        if match:
            return match
        assert process.poll() is None, f"the worker exited early:\n{output.read_text()}"
        time.sleep(0.005)
    raise AssertionError(f"no progress within {seconds}s:\n{output.read_text()}")


def _wait_for(condition, process, output: Path, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert process.poll() is None, f"the worker exited early:\n{output.read_text()}"
        assert time.monotonic() < deadline, f"no progress within {seconds}s"
        time.sleep(0.005)


def _followers_seen(app) -> int:
    run = FollowerImport.objects.filter(app=app).first()
    return run.followers_seen if run else 0


def _other_backends() -> tuple[int, int]:
    """Connections of other processes to this database: (all, inside a transaction)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*), count(*) FILTER (WHERE xact_start IS NOT NULL) "
            "FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()


def _kill(process: subprocess.Popen) -> None:
    """SIGKILL the worker, then wait until PostgreSQL has dropped its connections."""
    stop(process, signal.SIGKILL)
    assert process.returncode == -signal.SIGKILL
    deadline = time.monotonic() + 10
    while _other_backends()[0] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _other_backends()[0] == 0


def _check_identity_graph(env) -> dict[str, int]:
    """Run the check as an operator would after a crash; return violations per check."""
    done = manage("check_identity_graph", "--no-color", env=env)
    violations = {
        match["name"]: int(match["found"] or 0)
        for match in re.finditer(
            r"^(?P<name>\w+)\s+(?:ok|(?P<found>\d+) violations)", done.stdout, re.MULTILINE
        )
    }
    assert done.returncode == 0, done.stdout + done.stderr
    assert violations
    assert set(violations.values()) == {0}, violations
    return violations


def _seed_persons(actor) -> list[Person]:
    """A few hundred persons over three apps, some with unionids, events, stats and tags."""
    apps = [
        provision_app(appid=appid, kind=kind, name=appid, actor=actor)[0]
        for appid, kind in APPS.items()
    ]
    save_tag(tag=Tag(key="tea", name="Tea", kind=TagKind.MANUAL), actor=actor)
    persons = []
    for n in range(PERSONS):
        unionid = f"uStorm{n}" if n % 4 == 0 else None
        app = apps[n % len(apps)]
        persons.append(
            resolve_identity(app=app, openid=f"oStorm{n}", unionid=unionid, actor=actor).person
        )
    events = []
    for n in range(PERSONS):
        base = {"appid": apps[n % len(apps)].appid, "openid": f"oStorm{n}"}
        events.append(
            {**base, "event_id": f"view-{n}", "type": "view", "occurred_at": _day(n % 28)}
        )
        if n % 3 == 0:
            events.append(
                {
                    **base,
                    "event_id": f"pay-{n}",
                    "type": "pay",
                    "occurred_at": _day(n % 20 + 1),
                    "amount": f"{n % 50 + 1}.50",
                    "channel": f"ch{n % 5}",
                }
            )
    result = ingest_events(events=events, actor=actor)
    assert result.accepted == len(events), result.errors
    for n, person in enumerate(persons):
        if n % 5 == 0:
            assign_tags(person=person, keys=["vip"] if n % 2 else ["vip", "tea"], actor=actor)
    return persons


def _day(day: int) -> str:
    return iso_ago(days=day + 1)


# The storm leans on PostgreSQL breaking deadlocks after deadlock_timeout (the service retries):
# it met one now and then until the rule refresh after a merge took its persons' locks first
# (tests/profiles/test_rule_refresh_locks.py). Under libfaketime that timer never fires, and a
# deadlock would stall the storm and the flush after the test: the run with the clock moved
# ahead leaves this test out.
@pytest.mark.pg_timers
def test_merge_storm_killed_mid_way_leaves_a_sound_graph(child_env, actor, tmp_path):
    # Given a few hundred persons with identities, events, stats and tags
    persons = _seed_persons(actor)
    identities, unionids, events = (
        Identity.objects.count(),
        UnionId.objects.count(),
        Event.objects.count(),
    )

    # When a storm of merges and undos runs in its own process and is killed mid-way
    output = tmp_path / "storm.log"
    storm = spawn(
        [sys.executable, "-m", "tests.faults.merge_storm", str(STORM_THREADS)]
        + [str(person.pk) for person in persons],
        env=child_env,
        output=output,
    )
    try:
        # Mid-way: once the storm has done real work
        _wait_for_output(storm, output, MID_STORM, seconds=60)
        in_flight = max(_other_backends()[1] for _ in range(5))
    finally:
        _kill(storm)
    totals = _last_line(output, r"merges=(\d+) undos=(\d+) conflicts=(\d+) errors=(\d+)")
    merges, undos, conflicts, errors = (int(value) for value in totals.groups())
    records = MergeRecord.objects.count()
    print(
        f"storm: {merges} merges ({records} committed), {undos} undos, {conflicts} conflicts, "
        f"{in_flight} transactions in flight at the kill"
    )

    # Then the storm did real work, every merge and undo it reported is durable, none failed
    assert merges >= 20
    assert undos > 0
    assert records >= merges
    assert MergeRecord.objects.filter(undone_at__isnull=False).count() >= undos
    assert errors == 0, output.read_text()[-2000:]
    assert in_flight > 0  # transactions were open when the process died
    # And the graph is sound
    violations = _check_identity_graph(child_env)
    print(f"check_identity_graph: {len(violations)} checks, {sum(violations.values())} violations")

    # And nothing was lost: every identifier survives and every person id still resolves
    assert Identity.objects.count() == identities
    assert UnionId.objects.count() == unionids
    assert Event.objects.count() == events
    assert Identity.objects.filter(person__in=Person.objects.live()).count() == identities
    assert Person.objects.filter(merged_into__isnull=False).exists()
    for person in Person.objects.all():
        resolved = get_person(person.public_id)
        assert resolved.merged_into_id is None
        assert resolved.pk == (person.merged_into_id or person.pk)


def test_follower_import_killed_mid_way_resumes_without_duplicates(child_env, actor, tmp_path):
    # Given a service account with a few thousand followers at a fake WeChat on loopback
    appid, secret = "wx2222222222222222", "svc-secret-0123456789"
    app, _ = provision_app(appid=appid, kind=AppKind.SERVICE_ACCOUNT, name="Service", actor=actor)
    set_app_credentials(app=app, secret=secret, actor=actor)
    state = FakeWeChatState(page_size=500)
    state.add_app(appid, secret)
    followers = [f"oFollower{n:05d}" for n in range(FOLLOWERS)]
    for n, openid in enumerate(followers):
        state.add_follower(appid, openid, unionid=f"uFollower{n:05d}" if n % 2 else None)
    server = FakeWeChatServer(state).start()
    env = {**child_env, "WECHAT_API_BASE": server.base_url}
    try:
        # When the import is killed once its progress shows followers
        output = tmp_path / "import.log"
        worker = spawn(
            [sys.executable, "manage.py", "wechat_import_followers", "--appid", appid],
            env=env,
            output=output,
        )
        try:
            _wait_for_output(worker, output, r"\d+/\d+ followers")
            # The command prints progress once a second; its saved run shows every chunk.
            # Kill it two pages (500 each) in, well before the end.
            _wait_for(lambda: _followers_seen(app) >= KILL_AT_FOLLOWERS, worker, output)
        finally:
            _kill(worker)
        run = FollowerImport.objects.get(app=app)
        before_kill = Identity.objects.filter(app=app).count()
        print(f"import: {run.followers_seen} followers seen, {before_kill} imported before kill")
        assert run.finished_at is None
        assert KILL_AT_FOLLOWERS <= run.followers_seen < FOLLOWERS
        assert KILL_AT_FOLLOWERS <= before_kill < FOLLOWERS

        # And run again
        resumed = manage("wechat_import_followers", "--appid", appid, env=env)
    finally:
        server.stop()

    # Then it resumed the same run and finished it
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "Imported" in resumed.stdout
    run = FollowerImport.objects.get(app=app)  # the one run, resumed rather than restarted
    assert run.finished_at is not None
    assert run.followers_seen >= FOLLOWERS
    # And every follower is one person with exactly one identity, following; no duplicates
    identities = Identity.objects.filter(app=app)
    assert sorted(identities.values_list("openid", flat=True)) == followers
    assert not identities.exclude(followed=True).exists()
    assert Person.objects.count() == FOLLOWERS
    assert not Identity.objects.values("person").annotate(n=Count("pk")).filter(n__gt=1).exists()
    assert UnionId.objects.count() == FOLLOWERS // 2
    _check_identity_graph(child_env)
