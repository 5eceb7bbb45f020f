"""CSV cells that a spreadsheet shows as data and never runs (OWASP "CSV injection").
The one guard for every CSV the app writes: usage, exports, replay results, the audit log."""

from __future__ import annotations

from datetime import UTC, datetime

# A spreadsheet runs a cell that starts with one of these as a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> object:
    """A value as a CSV cell: ISO UTC times, true/false, and text a spreadsheet would
    run as a formula defused."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value  # shown as text, never run
    return value
