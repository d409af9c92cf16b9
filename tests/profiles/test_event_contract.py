"""One contract for an event item: what the ingest takes, the columns storing it, the schema."""

from decimal import Decimal

import pytest

from profiles.api.serializers import EventIn
from profiles.models import Event
from profiles.services.event_contract import FIELDS
from profiles.services.ingest import ingest_events

pytestmark = pytest.mark.django_db


def test_the_schema_documents_the_fields_the_ingest_takes(event, actor):
    # Given the fields the schema documents for an event item
    documented = list(EventIn().fields)
    full = event(type="pay", amount="1.00", channel="ad", properties={"k": 1})
    # When an event with each of them (by openid, not person_id) and one with a field the
    # schema does not name are ingested
    result = ingest_events(events=[full, event(undocumented=1)], actor=actor)
    # Then they are the parser's fields, the first is taken and the second refused by that field
    assert documented == list(FIELDS)
    assert set(full) == set(documented) - {"person_id"}
    assert result.accepted == 1
    assert set(result.errors[0]["error"]["details"]) == {"undocumented"}


@pytest.mark.parametrize("field", ["event_id", "channel"])
def test_the_longest_text_the_column_stores_is_taken_and_documented(event, actor, field):
    # Given the column's length
    longest = Event._meta.get_field(field).max_length
    # When a value of that length and one a character longer are ingested
    result = ingest_events(
        events=[event(**{field: "c" * longest}), event(**{field: "c" * (longest + 1)})],
        actor=actor,
    )
    # Then only the longer one is refused, by that field, and the schema documents the length
    assert result.accepted == 1
    assert [(e["index"], set(e["error"]["details"])) for e in result.errors] == [(1, {field})]
    assert str(longest) in result.errors[0]["error"]["details"][field][0]
    assert EventIn().fields[field].max_length == longest


def test_the_largest_amount_the_column_stores_is_taken_and_documented(event, actor):
    # Given the amount column's digits
    column = Event._meta.get_field("amount")
    cent = Decimal(1).scaleb(-column.decimal_places)
    largest = Decimal(10) ** (column.max_digits - column.decimal_places) - cent
    # When the largest amount it stores and one a cent larger are ingested
    result = ingest_events(
        events=[
            event(type="pay", amount=str(largest)),
            event(type="pay", amount=str(largest + cent)),
        ],
        actor=actor,
    )
    # Then only the larger one is refused, and the schema documents the same digits
    assert result.accepted == 1
    assert result.errors[0]["error"]["details"] == {"amount": [f"Must be between 0 and {largest}."]}
    documented = EventIn().fields["amount"]
    assert (documented.max_digits, documented.decimal_places) == (
        column.max_digits,
        column.decimal_places,
    )
