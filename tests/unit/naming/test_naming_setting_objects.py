"""A flow's setting name (free text, as the Engine allows) maps to one valid object name."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from workspace_link.core import naming

SUBDOMAIN = re.compile(r"^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def test_a_valid_object_name_is_used_as_it_is() -> None:
    assert naming.setting_object_name("counter") == "counter"
    assert naming.setting_object_name("team.a-1") == "team.a-1"


def test_an_engine_name_becomes_a_readable_slug_with_a_digest() -> None:
    name = naming.setting_object_name("notification_emails")
    assert re.fullmatch(r"notification-emails-[a-z2-7]{10}", name)


def test_names_that_slug_alike_stay_apart() -> None:
    assert naming.setting_object_name("a_b") != naming.setting_object_name("A_B")
    assert naming.setting_object_name("a_b") != naming.setting_object_name("a-b")


@given(st.text(min_size=1, max_size=253))
def test_every_name_maps_to_a_valid_object_name_the_same_each_time(name: str) -> None:
    mapped = naming.setting_object_name(name)
    assert SUBDOMAIN.match(mapped), mapped
    assert mapped == naming.setting_object_name(name)
