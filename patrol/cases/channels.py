"""Where a case came from (``Case.channel``): one list, with the words for it, read by the case loop, the desk,
the filters, the KPIs and the exports.

The residents' channels are those a resident used herself (扫码上报 on the H5 page, the 12345 hotline, an Open311
app): 接诉即办's 响应率 / 解决率 / 满意率 count their cases (:mod:`patrol.analytics.responsiveness`)."""

from __future__ import annotations

from patrol.cases.lifecycle import SELF_HANDLED
from patrol.core.errors import InvalidInput

PATROL = "patrol"            # a grid worker's report from her patrol (主动发现)
# SELF_HANDLED (lifecycle): a grid worker handled it on the spot (自行处置)
RESIDENT = "resident"        # a resident on the public H5 page (扫码上报, /r/)
HOTLINE = "12345"            # a 12345 work order (工单), imported or pushed by the hotline platform
OPEN311 = "open311"          # an app through Open311 GeoReport v2
INSPECTION = "inspection"    # an inspection ordering a rectification (检查整改)
STAFF = "staff"              # entered at the desk (a call or WeChat message to the community, 来电来访)
HISTORY = "history"          # imported from an old system's history without a channel of its own

#: value → (Chinese, English), in the order filters list them
CHANNELS: dict[str, tuple[str, str]] = {
    PATROL: ("巡查上报", "Patrol"),
    SELF_HANDLED: ("自行处置", "Handled on the spot"),
    RESIDENT: ("居民扫码", "Resident (QR / H5)"),
    HOTLINE: ("12345热线", "12345 hotline"),
    OPEN311: ("Open311", "Open311"),
    INSPECTION: ("检查整改", "Inspection"),
    STAFF: ("工作人员", "Staff"),
    HISTORY: ("历史导入", "History import"),
}

#: the channels of 接诉即办 (a resident asked): 响应率, 解决率 and 满意率 count these
RESIDENT_CHANNELS: frozenset[str] = frozenset({RESIDENT, HOTLINE, OPEN311})


def label(channel: str | None, lang: str = "zh") -> str:
    """A channel in words; an unknown value as it is."""
    if channel is None:
        return ""
    words = CHANNELS.get(channel)
    return channel if words is None else words[0 if lang == "zh" else 1]


def check_channel(value: str | None, field: str = "channel") -> str | None:
    """``value`` when it is a known channel (or None); else InvalidInput naming the channels."""
    if value is None or value == "":
        return None
    if value not in CHANNELS:
        raise InvalidInput(f"unknown channel {value!r}; channels: {', '.join(CHANNELS)}", field=field)
    return value


def check_channels(values: str | list[str] | None, field: str = "channel") -> list[str]:
    """A comma-separated list (or a list) of channels, each checked; [] for none."""
    if not values:
        return []
    items = values.split(",") if isinstance(values, str) else values
    return [c for c in (check_channel(v.strip(), field) for v in items) if c]
