"""Seed the benchmark data set fast, with PostgreSQL COPY.

`DJANGO_SETTINGS_MODULE=bench.settings python manage.py bench_seed --persons 1000000` loads 1M
persons, ~1.5M identities in three apps, 0.8M unionids, 0.2M (encrypted) phones, 5 events per
person on average with stats built from them, and the preset rule tags refreshed over everyone.
"""

import base64
import os
import random
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.core.management.base import BaseCommand
from django.db import connection, transaction

from bench import dataset as ds
from identity import crypto
from identity.models import Actor, AppKind
from identity.phones import phone_index
from identity.services.apps import provision_app
from profiles.models import Segment
from profiles.services.activity import rebuild_activity
from profiles.services.definitions import save_segment
from profiles.services.partitions import ensure_months, ensure_partitions
from profiles.services.rules import refresh_rule_tags
from profiles.services.stats_rebuild import rebuild_stats

EVENT_TYPES = (
    ["view"] * 50
    + ["login"] * 20
    + ["pay"] * 8
    + ["share"] * 7
    + ["coupon_claim"] * 8
    + ["coupon_use"] * 4
    + ["form_submit"] * 3
)
CHANNELS = ["sa_article", "store_qr", "channels_video", "douyin", "share_card"]
NOW = datetime.now(tz=UTC)


class Command(BaseCommand):
    help = "Seed the benchmark data set (persons, identities, phones, events, stats, tags)."

    def add_arguments(self, parser):
        parser.add_argument("--persons", type=int, default=1_000_000)
        parser.add_argument("--events-per-person", type=float, default=5.0)
        parser.add_argument("--seed", type=int, default=1)

    def handle(self, *args, persons, events_per_person, seed, **options):
        self.rng = random.Random(seed)
        started = time.monotonic()
        actor = Actor.system("bench_seed")
        apps = {
            kind: provision_app(
                appid=appid,
                kind=kind,
                name=f"Bench {kind}",
                secret="bench-secret",  # noqa: S106 - benchmark data
                actor=actor,
            )[0]
            for appid, kind in (
                (ds.MINI_APPID, AppKind.MINIPROGRAM),
                (ds.SERVICE_APPID, AppKind.SERVICE_ACCOUNT),
                (ds.H5_APPID, AppKind.H5),
            )
        }
        with transaction.atomic():
            first = self._reserve("identity_person_id_seq", persons)
            self._step("persons", lambda: self._persons(first, persons))
            identity_first = self._step(
                "identities", lambda: self._identities(first, persons, apps)
            )
            self._step("unionids", lambda: self._unionids(first, persons))
            self._step("phones", lambda: self._phones(first, persons))
            self._step(
                "events",
                lambda: self._events(first, persons, identity_first, apps, events_per_person),
            )
            self._step("registrations", self._registrations)
        self._step("stats (rebuild from events)", lambda: rebuild_stats())
        self._step("daily activity (rebuild from events)", lambda: rebuild_activity())
        self._step("VIP tags", lambda: self._vips(first, persons))
        self._step("rule tags", lambda: refresh_rule_tags(actor=actor))
        self._step("segment", lambda: self._segment(actor))
        self._step("ANALYZE", self._analyze)
        self.stdout.write(self.style.SUCCESS(f"Seeded in {time.monotonic() - started:.0f}s."))

    # -- steps -----------------------------------------------------------------------------

    def _step(self, name, work):
        started = time.monotonic()
        self.stdout.write(f"{name}...", ending="")
        self.stdout.flush()
        result = work()
        self.stdout.write(f" {time.monotonic() - started:.1f}s")
        return result

    def _reserve(self, sequence: str, count: int) -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT nextval(%s)", [sequence])
            first = cursor.fetchone()[0]
            cursor.execute("SELECT setval(%s, %s)", [sequence, first + count])
        return first

    def _copy(self, sql: str, rows) -> int:
        count = 0
        with connection.cursor() as cursor, cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row(row)
                count += 1
                if count % 250_000 == 0:
                    self.stdout.write(".", ending="")
                    self.stdout.flush()
        return count

    def _persons(self, first, count):
        def rows():
            for index in range(count):
                public_id = "p_" + base64.b32encode(os.urandom(15)).decode().lower()
                created = NOW - timedelta(minutes=self.rng.randrange(2 * 365 * 24 * 60))
                yield (first + index, public_id, created, created)

        self._copy(
            "COPY identity_person (id, public_id, created_at, updated_at) FROM STDIN", rows()
        )

    def _identities(self, first, count, apps):
        total = sum(1 + ds.has_service(i) + ds.has_h5(i) for i in range(count))
        identity_first = self._reserve("identity_identity_id_seq", total)
        mini, service, h5 = (
            apps[AppKind.MINIPROGRAM].pk,
            apps[AppKind.SERVICE_ACCOUNT].pk,
            apps[AppKind.H5].pk,
        )

        def rows():
            next_id = identity_first
            for index in range(count):
                person = first + index
                yield (next_id, mini, ds.mini_openid(index), person, None, None, "", NOW, NOW)
                next_id += 1
                if ds.has_service(index):
                    followed = index % 3 != 0
                    yield (
                        next_id,
                        service,
                        ds.service_openid(index),
                        person,
                        followed,
                        NOW - timedelta(days=index % 700) if followed else None,
                        "ADD_SCENE_QR_CODE" if followed else "",
                        NOW,
                        NOW,
                    )
                    next_id += 1
                if ds.has_h5(index):
                    yield (next_id, h5, ds.h5_openid(index), person, None, None, "", NOW, NOW)
                    next_id += 1

        self._copy(
            "COPY identity_identity (id, app_id, openid, person_id, followed, followed_at, "
            "subscribe_scene, created_at, updated_at) FROM STDIN",
            rows(),
        )
        return identity_first

    def _unionids(self, first, count):
        rows = (
            (first + index, "wechat", ds.unionid(index), NOW)
            for index in range(count)
            if ds.has_unionid(index)
        )
        self._copy(
            "COPY identity_unionid (person_id, platform, unionid, created_at) FROM STDIN", rows
        )

    def _phones(self, first, count):
        with connection.cursor() as cursor:
            cursor.execute(
                "CREATE TEMP TABLE bench_phones (id bigint, enc text, idx text) ON COMMIT DROP"
            )
        rows = (
            (first + index, crypto.encrypt(ds.phone(index)), phone_index(ds.phone(index)))
            for index in range(count)
            if ds.has_phone(index)
        )
        self._copy("COPY bench_phones (id, enc, idx) FROM STDIN", rows)
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE identity_person p SET phone_encrypted = b.enc, phone_index = b.idx "
                "FROM bench_phones b WHERE p.id = b.id"
            )

    def _events(self, first, count, identity_first, apps, per_person):
        mini = apps[AppKind.MINIPROGRAM].pk
        # identity id of person i's mini-program identity: walk the same layout as _identities
        mini_identity = []
        next_id = identity_first
        for index in range(count):
            mini_identity.append(next_id)
            next_id += 1 + ds.has_service(index) + ds.has_h5(index)
        total = int(count * per_person)
        rng = self.rng
        # The months the events fall in (the last 365 days) need their partitions first.
        ensure_months(NOW - timedelta(days=days) for days in [*range(0, 365, 7), 365])
        ensure_partitions()
        first_event = self._reserve("profiles_event_id_seq", total)

        def rows():
            for number in range(total):
                index = int(count * rng.random() ** 2)  # skewed: some persons are busy
                kind = rng.choice(EVENT_TYPES)
                at = NOW - timedelta(seconds=rng.randrange(365 * 24 * 3600))
                amount = Decimal(rng.randrange(100, 50000)) / 100 if kind == "pay" else None
                channel = rng.choice(CHANNELS) if number % 7 == 0 else ""
                person = first + index
                yield (
                    first_event + number,
                    f"bench-{person}-{number}",
                    person,
                    person,
                    mini_identity[index],
                    mini,
                    kind,
                    at,
                    NOW,
                    amount,
                    channel,
                    "{}",
                )

        self._copy(
            "COPY profiles_event (id, event_id, person_id, origin_person_id, identity_id, "
            "app_id, type, occurred_at, received_at, amount, channel, properties) FROM STDIN",
            rows(),
        )
        # The idempotency keys of the seeded events, as the event store writes them.
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO profiles_eventkey (id, app_id, event_id) "
                "SELECT id, app_id, event_id FROM profiles_event WHERE id BETWEEN %s AND %s",
                [first_event, first_event + total - 1],
            )

    def _registrations(self):
        """Make each person's earliest event a `register`, as a real history starts, so that
        retention cohorts and the register -> login -> view -> pay funnel have entries."""
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE profiles_event e SET type = 'register' FROM ("
                "  SELECT DISTINCT ON (person_id) id, occurred_at FROM profiles_event"
                "  ORDER BY person_id, occurred_at, id"
                ") first WHERE e.id = first.id AND e.occurred_at = first.occurred_at"
            )

    def _vips(self, first, count):
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO profiles_tagassignment (person_id, tag_id, source, assigned_by, "
                "assigned_at) SELECT g, t.id, 'import', 'bench_seed', now() "
                "FROM generate_series(%s, %s, 20) g, profiles_tag t WHERE t.key = 'vip' "
                "ON CONFLICT DO NOTHING",
                [first, first + count - 1],
            )

    def _segment(self, actor):
        condition = {
            "all": [
                {"field": "pay_count", "op": ">=", "value": 2},
                {"followed": ds.SERVICE_APPID},
                {"not": {"tag": "churned"}},
            ]
        }
        segment = Segment.objects.filter(key="bench_buyers").first() or Segment(key="bench_buyers")
        segment.name, segment.condition = "Repeat buyers following, not churned", condition
        save_segment(segment=segment, actor=actor)

    def _analyze(self):
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
