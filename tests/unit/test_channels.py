"""The channel vocabulary: one list in patrol, its words on the desk pages the same."""

from __future__ import annotations

import pytest

from maps.desk.common import CHANNEL
from patrol.cases import channels
from patrol.core.errors import InvalidInput


def test_desk_words_are_the_channel_list():
    for lang, i in (("zh", 0), ("en", 1)):
        words = {k: v for k, v in CHANNEL[lang].items() if k != "survey"}
        assert words == {k: v[i] for k, v in channels.CHANNELS.items()}


def test_check_channels_names_the_bad_one():
    assert channels.check_channels("12345, resident") == ["12345", "resident"]
    with pytest.raises(InvalidInput) as e:
        channels.check_channels("12345,wechat")
    assert "wechat" in str(e.value) and e.value.field == "channel"
    assert set(channels.CHANNELS) >= channels.RESIDENT_CHANNELS
    assert channels.label("12345", "en") == "12345 hotline" and channels.label("odd") == "odd"


def test_the_dashboards_resident_channels_are_the_list():
    from maps.dashboard import RESIDENT_CHANNELS

    assert frozenset(RESIDENT_CHANNELS) == channels.RESIDENT_CHANNELS
