"""`plain_openid_lookup` skips the serializer for the plain openid lookup: where it answers, the
answer must be the serializer's, and everything else must go to the serializer."""

import pytest
from django.http import QueryDict

from config.api.views import valid
from identity.api.serializers import LookupQuery, plain_openid_lookup

PLAIN = ["appid=wx1&openid=oAbc_123-x", "openid=o1&appid=wxbe0c000000000001"]
NOT_PLAIN = [
    "appid=wx1&openid=%20oAbc",  # stripped by the serializer: its answer, not ours
    "appid=%20wx1&openid=o1",
    "appid=wx1&openid=undefined",  # a placeholder: the serializer's 400
    "appid=wx1&openid=o%C3%A9",  # outside the identifier alphabet
    "appid=&openid=o1",
    "appid=wx1&openid=o1&platform=wechat",
    "appid=wx1&unionid=u1",
    "openid=o1",
    f"appid={'w' * 65}&openid=o1",
    "appid=wx%00&openid=o1",
]


@pytest.mark.parametrize("query", PLAIN)
def test_a_plain_query_answers_what_the_serializer_would(query):
    params = QueryDict(query)

    assert plain_openid_lookup(params) == valid(LookupQuery, params.dict())


@pytest.mark.parametrize("query", NOT_PLAIN)
def test_anything_else_goes_to_the_serializer(query):
    assert plain_openid_lookup(QueryDict(query)) is None
