"""The tag list over REST: every definition with its group, in a fixed number of queries."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from profiles.models import Tag, TagGroup, TagKind
from profiles.services.definitions import save_tag, save_tag_group

pytestmark = pytest.mark.django_db


def _queries(client, path) -> int:
    client.get(path)  # warm-up: the key's last-used time is written at most once a minute
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    assert response.status_code == 200
    return len(captured)


def _add_tags(actor, prefix: str, count: int) -> None:
    for n in range(count):
        group = save_tag_group(
            group=TagGroup(key=f"{prefix}{n}", name=f"{prefix} {n}"), actor=actor
        )
        tag = Tag(
            key=f"{prefix}_tag{n}", name=f"{prefix} tag {n}", kind=TagKind.MANUAL, group=group
        )
        save_tag(tag=tag, actor=actor)


def test_the_tag_list_reads_every_tag_and_its_group_in_one_query(api, actor):
    # Given the preset tags and a few more, each in a group of its own
    _add_tags(actor, "few", 2)
    few = _queries(api, "/api/v1/tags")

    # When many more tags in many more groups are defined
    _add_tags(actor, "many", 20)
    many = _queries(api, "/api/v1/tags")

    # Then the list runs the same queries: no query per tag or per group
    assert many == few
    assert {"many_tag19", "few_tag0"} <= {
        tag["key"] for tag in api.get("/api/v1/tags").json()["results"]
    }
