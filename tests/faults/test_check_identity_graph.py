"""`manage.py check_identity_graph` passes on a sound graph and names every kind of damage.

The damage is done with SQL behind the services' back, as a bug, a manual fix in psql or a
half-applied script would do it.
"""

import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from identity.models import AppKind, Identity
from identity.services.apps import provision_app
from identity.services.erase import erase_person
from identity.services.merge import merge_persons
from identity.services.resolve import resolve_identity
from profiles.services.ingest import ingest_events
from profiles.services.tags import assign_tags
from tests.clock import iso_ago
from tests.faults.conftest import manage

MINI, H5 = "wx1111111111111111", "wx3333333333333333"


def _graph(actor) -> dict[str, int]:
    """A small sound graph; returns the pks of its persons by role.

    survivor <- loser (merged, with events and a tag that moved), survivor2 <- loser2 (merged),
    live (openid, unionid, events, stats, tag), erased (erased through the service).
    """
    mini, _ = provision_app(appid=MINI, kind=AppKind.MINIPROGRAM, name="Mini", actor=actor)
    h5, _ = provision_app(appid=H5, kind=AppKind.H5, name="H5", actor=actor)
    pks = {}
    for role, app, unionid in (
        ("survivor", mini, None),
        ("loser", h5, "uLoser"),
        ("survivor2", mini, None),
        ("loser2", h5, None),
        ("live", mini, "uLive"),
        ("erased", h5, None),
    ):
        pks[role] = resolve_identity(
            app=app, openid=f"o{role}", unionid=unionid, actor=actor
        ).person.pk
    events = [
        {
            "event_id": f"{role}-{kind}",
            "appid": MINI if role in {"survivor", "live"} else H5,
            "openid": f"o{role}",
            "type": kind,
            "occurred_at": iso_ago(hours=1),
            **({"amount": "12.50"} if kind == "pay" else {}),
        }
        for role in ("survivor", "loser", "live")
        for kind in ("view", "pay")
    ]
    assert ingest_events(events=events, actor=actor).accepted == len(events)
    persons = {role: Identity.objects.get(openid=f"o{role}").person for role in pks}
    for role in ("loser", "live"):
        assign_tags(person=persons[role], keys=["vip"], actor=actor)
    for survivor, loser in (("survivor", "loser"), ("survivor2", "loser2")):
        merge_persons(first=persons[survivor], second=persons[loser], reason="manual", actor=actor)
    erase_person(person=persons["erased"], actor=actor)
    return pks


def _run_check() -> tuple[str, dict[str, int], CommandError | None]:
    out = StringIO()
    error = None
    try:
        call_command("check_identity_graph", stdout=out, no_color=True)
    except CommandError as exc:
        error = exc
    output = out.getvalue()
    return output, _violations(output), error


def _violations(output: str) -> dict[str, int]:
    return {
        match["name"]: int(match["found"] or 0)
        for match in re.finditer(
            r"^(?P<name>\w+)\s+(?:ok|(?P<found>\d+) violations)", output, re.MULTILINE
        )
    }


def _corrupt(sql: str, pks: dict[str, int]) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, pks)


CORRUPTIONS = {
    "identity_on_tombstone": (
        "UPDATE identity_identity SET person_id = %(loser)s WHERE person_id = %(live)s",
        "identities_on_live_persons",
    ),
    "unionid_on_tombstone": (
        "UPDATE identity_unionid SET person_id = %(loser2)s WHERE person_id = %(live)s",
        "unionids_on_live_persons",
    ),
    "tombstone_pointing_at_tombstone": (
        "UPDATE identity_person SET merged_into_id = %(loser)s WHERE id = %(loser2)s",
        "tombstones_one_hop",
    ),
    "tombstone_without_merge_record": (
        "DELETE FROM identity_mergerecord WHERE loser_id = %(loser)s",
        "tombstones_have_a_merge_record",
    ),
    "merge_record_of_a_live_person": (
        "UPDATE identity_person SET merged_into_id = NULL, merged_at = NULL WHERE id = %(loser2)s",
        "merge_records_point_at_tombstones",
    ),
    "erased_person_holding_an_identity": (
        "UPDATE identity_identity SET person_id = %(erased)s WHERE person_id = %(live)s",
        "erased_persons_hold_nothing",
    ),
    "stats_changed_behind_the_service": (
        "UPDATE profiles_personstats SET pay_count = pay_count + 1, pay_total = pay_total + 1 "
        "WHERE person_id = %(live)s",
        "stats_equal_rebuild",
    ),
    "event_on_tombstone": (
        "UPDATE profiles_event SET person_id = %(loser)s WHERE person_id = %(live)s",
        "events_on_live_persons",
    ),
    "tag_on_tombstone": (
        "UPDATE profiles_tagassignment SET person_id = %(loser2)s WHERE person_id = %(live)s",
        "tags_on_live_persons",
    ),
    "exclusive_marker_of_a_plain_group": (
        "UPDATE profiles_tagassignment SET exclusive_group_id = "
        "(SELECT group_id FROM profiles_tag WHERE key = 'vip') WHERE person_id = %(live)s "
        "AND tag_id = (SELECT id FROM profiles_tag WHERE key = 'vip')",
        "exclusive_group_markers",
    ),
}


@pytest.mark.django_db
def test_a_sound_graph_passes_every_check(actor):
    _graph(actor)

    output, violations, error = _run_check()

    assert error is None, output
    assert len(violations) >= len(CORRUPTIONS)
    assert set(violations.values()) == {0}, output
    assert f"All {len(violations)} checks passed." in output


@pytest.mark.django_db
@pytest.mark.parametrize(("sql", "check"), CORRUPTIONS.values(), ids=CORRUPTIONS.keys())
def test_each_kind_of_damage_is_reported_by_name(actor, sql, check):
    pks = _graph(actor)

    _corrupt(sql, pks)
    output, violations, error = _run_check()

    assert error is not None, output
    assert error.returncode != 0
    assert violations[check] > 0, output
    assert f"{check}" in output
    assert re.search(rf"^{check}\s+\d+ violations", output, re.MULTILINE)
    assert "invariant violations" in str(error)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_command_exits_non_zero_on_damage(actor, child_env):
    pks = _graph(actor)
    _corrupt(CORRUPTIONS["event_on_tombstone"][0], pks)

    done = manage("check_identity_graph", "--no-color", env=child_env)

    assert done.returncode == 1
    assert _violations(done.stdout)["events_on_live_persons"] > 0, done.stdout
    assert "invariant violations" in done.stderr
