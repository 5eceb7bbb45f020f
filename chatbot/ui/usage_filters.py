"""The usage page's controls: which days (UTC) to report on, and how to group them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import streamlit as st

from chatbot.services.usage import GROUPS, Bucket, GroupBy

DEFAULT_DAYS = 7
# Up to this many days the charts show hours; longer ranges show days.
HOURLY_UP_TO_DAYS = 2


@dataclass(frozen=True)
class UsageRange:
    first: date
    last: date  # inclusive

    @property
    def since(self) -> datetime:
        return datetime.combine(self.first, time(), tzinfo=UTC)

    @property
    def until(self) -> datetime:
        return datetime.combine(self.last + timedelta(days=1), time(), tzinfo=UTC)

    @property
    def bucket(self) -> Bucket:
        return "hour" if (self.last - self.first).days + 1 <= HOURLY_UP_TO_DAYS else "day"

    @property
    def label(self) -> str:
        if self.first == self.last:
            return f"{self.first:%d %b %Y}"
        return f"{self.first:%d %b %Y} – {self.last:%d %b %Y}"


def today_utc() -> date:
    return datetime.now(UTC).date()


def range_picker() -> UsageRange:
    """Dates in UTC, the last 7 days by default; half a picked range counts as one day."""
    today = today_utc()
    picked = st.date_input(
        "Dates (UTC)",
        value=(today - timedelta(days=DEFAULT_DAYS - 1), today),
        max_value=today,
        key="usage-range",
        help="Calls made from the start of the first day to the end of the last, in UTC.",
    )
    days = picked if isinstance(picked, tuple) else (picked,)
    days = tuple(day for day in days if day is not None) or (today,)
    return UsageRange(first=min(days), last=max(days))


def group_picker() -> GroupBy:
    labels = {"model": "Model", "purpose": "Purpose", "owner": "User"}
    chosen = st.segmented_control(
        "Break down by",
        GROUPS,
        format_func=labels.__getitem__,
        default="model",
        key="usage-group-by",
    )
    return chosen or "model"  # clicking the selected option again clears it
