"""A segment's members as CSV, streamed page by page (keyset cursor) so memory stays flat.

Columns: person id, WeChat unionid, one openid column per app (appid as header), the masked
phone (never the number in clear), payments, amount paid, last seen and active tag keys.
"""

import csv
from collections.abc import Iterable, Iterator

from django.http import StreamingHttpResponse
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from identity.models import Actor, App, Person, Platform
from profiles.models import Segment
from profiles.selectors import segment_members
from profiles.services.segment_exports import record_segment_export

PAGE_SIZE = 1000
ROWS_PER_CHUNK = 200
# Spreadsheets read a cell starting with these as a formula (CSV injection): quote them.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def header(apps: list[App]) -> list[str]:
    return [
        "person_id",
        "unionid",
        *(app.appid for app in apps),
        "phone",
        "pay_count",
        "pay_total",
        "last_seen_at",
        "tags",
    ]


def member_row(person: Person, apps: list[App]) -> list[str]:
    """One member, from the JSON rows `segment_members` loaded (no query per person)."""
    openids = {row["app_id"]: row["openid"] for row in person.identity_rows}
    unionid = next(
        (row["unionid"] for row in person.unionid_rows if row["platform"] == Platform.WECHAT), ""
    )
    stats = person.section_stats["stats"]
    last_seen = parse_datetime(stats["last_seen_at"]) if stats and stats["last_seen_at"] else None
    return [
        person.public_id,
        unionid,
        *(openids.get(app.pk, "") for app in apps),
        person.phone_masked or "",
        str(stats["pay_count"] if stats else 0),
        stats["pay_total"] if stats else "0.00",
        f"{timezone.localtime(last_seen):%Y-%m-%d %H:%M:%S}" if last_seen else "",
        ",".join(row["key"] for row in person.section_tags),
    ]


def member_rows(
    segment: Segment, apps: list[App], *, page_size: int = PAGE_SIZE
) -> Iterator[list[str]]:
    """Yield the header, then every live member in id order, one page of queries at a time."""
    yield header(apps)
    cursor = None
    while True:
        members, cursor = segment_members(segment, limit=page_size, cursor=cursor)
        for person in members:
            yield member_row(person, apps)
        if cursor is None:
            return


class _Echo:
    """A file-like object whose write hands back the line, for csv.writer to format rows."""

    def write(self, value: str) -> str:
        return value


def _cell(value) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def csv_chunks(rows: Iterable[list], *, rows_per_chunk: int = ROWS_PER_CHUNK) -> Iterator[str]:
    """Format rows as CSV text in chunks, starting with a BOM so that Excel reads UTF-8."""
    writer = csv.writer(_Echo())
    chunk = ["\ufeff"]
    for row in rows:
        chunk.append(writer.writerow([_cell(value) for value in row]))
        if len(chunk) >= rows_per_chunk:
            yield "".join(chunk)
            chunk = []
    if chunk:
        yield "".join(chunk)


def export_members(segment: Segment, *, actor: Actor) -> StreamingHttpResponse:
    """Audit the export, then stream the file as the pages are read."""
    apps = list(App.objects.order_by("appid"))
    record_segment_export(segment=segment, actor=actor, columns=header(apps))
    response = StreamingHttpResponse(
        csv_chunks(member_rows(segment, apps)), content_type="text/csv; charset=utf-8"
    )
    filename = f"segment-{segment.key}-{timezone.localdate():%Y%m%d}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
