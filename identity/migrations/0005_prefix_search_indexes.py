"""Indexes for the person admin's prefix search on openids and unionids.

The expressions are what `__istartswith` emits on PostgreSQL (UPPER(column::text) LIKE
UPPER('term%')), with text_pattern_ops so that LIKE uses them whatever the database collation.
Built concurrently: identities are the largest table here, and writes go on meanwhile.
"""

import django.contrib.postgres.indexes
import django.db.models.functions.comparison
import django.db.models.functions.text
from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


def _prefix_of(field):
    return django.contrib.postgres.indexes.OpClass(
        django.db.models.functions.text.Upper(
            django.db.models.functions.comparison.Cast(field, models.TextField())
        ),
        name="text_pattern_ops",
    )


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("identity", "0004_wechat_models_to_platforms"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="identity",
            index=models.Index(_prefix_of("openid"), name="identity_openid_upper_prefix"),
        ),
        AddIndexConcurrently(
            model_name="unionid",
            index=models.Index(_prefix_of("unionid"), name="unionid_upper_prefix"),
        ),
    ]
