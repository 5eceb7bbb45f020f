"""Usage reports over API-call rows seeded in a temp SQLite file, and the cost a real
turn against the sandbox records."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest

from chatbot import pricing, store
from chatbot.errors import InputError
from chatbot.services.usage import CSV_COLUMNS, UsageService, percentile

from actors import ADMIN, AGENT
from test_services_chat import build_service, finish

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # a Monday, 09:00 UTC
DAY = timedelta(days=1)


def seed(engine, *rows: dict) -> None:
    with store.write_session(engine) as session:
        for row in rows:
            fields = {"model": "claude-sonnet-4-5", "outcome": "ok", "created_at": T0, **row}
            store.record_api_call(session=session, **fields)


def call(minutes: float = 0, **fields) -> dict:
    return {"created_at": T0 + timedelta(minutes=minutes), **fields}


def test_percentile_is_nearest_rank():
    assert percentile([], 50) is None
    assert percentile([7.0], 95) == 7.0
    assert percentile([4, 1, 3, 2], 50) == 2  # rank ceil(0.5 * 4) = 2
    values = list(range(1, 101))  # 1..100
    assert (percentile(values, 50), percentile(values, 95), percentile(values, 100)) == (50, 95, 100)
    assert percentile(list(range(1, 21)), 95) == 19  # rank ceil(0.95 * 20) = 19
    with pytest.raises(ValueError):
        percentile([1], 0)


def test_summary_counts_success_latency_tokens_and_cost(engine):
    seed(
        engine,
        *[call(i, total_ms=100.0 * (i + 1), ttft_ms=10.0 * (i + 1), input_tokens=100,
               output_tokens=50, cost_usd=0.001) for i in range(17)],
        call(20, outcome="partial", error_type="overloaded_error", total_ms=5000.0, cost_usd=0.002,
             cache_read_input_tokens=30),
        call(21, outcome="error", error_type="rate_limit_error", status_code=429, total_ms=9000.0,
             cost_usd=0.0),
        call(22, outcome="error", error_type="rate_limit_error", status_code=429, total_ms=None,
             cost_usd=0.0, cache_creation_input_tokens=40),
    )
    report = UsageService(engine).summary(ADMIN, T0, T0 + DAY)
    total = report.total
    assert total.calls == 20 and total.ok == 17 and total.errors == 2
    assert total.outcomes == {"ok": 17, "partial": 1, "error": 2}
    assert total.success_rate == 17 / 20
    assert total.errors_by_type == {"rate_limit_error": 2, "overloaded_error": 1}
    # 19 latencies: 100..1700, 5000, 9000; nearest rank 10 and ceil(0.95*19) = 19.
    assert (total.total_ms.p50, total.total_ms.p95) == (1000.0, 9000.0)
    assert total.ttft_ms.p50 == 90.0 and total.ttft_ms.p95 == 170.0  # only the 17 that had one
    assert (total.input_tokens, total.output_tokens) == (1700, 850)
    assert (total.cache_creation_input_tokens, total.cache_read_input_tokens) == (40, 30)
    assert total.cost_usd == pytest.approx(0.019) and total.unpriced_calls == 0


def test_the_range_is_since_inclusive_until_exclusive(engine):
    seed(engine, call(-1), call(0), call(59), call(60))
    usage = UsageService(engine)
    assert usage.summary(ADMIN, T0, T0 + timedelta(hours=1)).total.calls == 2
    assert usage.summary(ADMIN, T0 - DAY, T0).total.calls == 1
    with pytest.raises(InputError):
        usage.summary(ADMIN, T0, T0)
    with pytest.raises(ValueError):
        usage.summary(ADMIN, T0.replace(tzinfo=None), T0 + DAY)


def test_summary_groups_by_model_purpose_or_owner(engine):
    seed(
        engine,
        call(0, model="claude-haiku-4-5", owner="ana", cost_usd=0.5),
        call(1, model="claude-haiku-4-5", owner="ben", outcome="error", error_type="api_error",
             cost_usd=0.0),
        call(2, model="claude-opus-4-5", owner="ana", purpose="summary", cost_usd=2.0),
        call(3, model="claude-next-9", owner="ana", cost_usd=None),
    )
    usage = UsageService(engine)

    by_model = usage.summary(ADMIN, T0, T0 + DAY, group_by="model")
    assert [(g.key, g.stats.calls) for g in by_model.groups] == [
        ("claude-haiku-4-5", 2), ("claude-next-9", 1), ("claude-opus-4-5", 1),
    ]
    haiku = by_model.groups[0].stats
    assert haiku.success_rate == 0.5 and haiku.cost_usd == 0.5
    assert by_model.total.cost_usd == 2.5
    assert by_model.total.unpriced_calls == 1 and by_model.total.unpriced_models == ("claude-next-9",)

    by_owner = usage.summary(ADMIN, T0, T0 + DAY, group_by="owner")
    assert {g.key: g.stats.calls for g in by_owner.groups} == {"ana": 3, "ben": 1}
    by_purpose = usage.summary(ADMIN, T0, T0 + DAY, group_by="purpose")
    assert {g.key: g.stats.cost_usd for g in by_purpose.groups} == {"chat": 0.5, "summary": 2.0}
    with pytest.raises(ValueError, match="group_by"):
        usage.summary(ADMIN, T0, T0 + DAY, group_by="conversation_id")  # type: ignore[arg-type]


def test_an_empty_range_has_no_groups_and_no_rates(engine):
    report = UsageService(engine).summary(ADMIN, T0, T0 + DAY)
    assert report.total.calls == 0 and report.groups == ()
    assert report.total.success_rate is None and report.total.total_ms.p50 is None


def test_timeline_buckets_by_hour_per_model_with_quiet_hours_as_zero(engine):
    seed(
        engine,
        call(5, input_tokens=10, output_tokens=1, cost_usd=0.25),
        call(50, input_tokens=20, output_tokens=2, cost_usd=0.25, outcome="partial"),
        call(130, model="claude-haiku-4-5", input_tokens=5, cache_read_input_tokens=7,
             cost_usd=0.1, outcome="error"),
        call(140, model="claude-haiku-4-5", cost_usd=None),
    )
    rows = UsageService(engine).timeline(ADMIN, T0, T0 + timedelta(hours=3), bucket="hour")
    assert [(r.bucket.hour, r.model) for r in rows] == [
        (9, "claude-haiku-4-5"), (9, "claude-sonnet-4-5"),
        (10, "claude-haiku-4-5"), (10, "claude-sonnet-4-5"),
        (11, "claude-haiku-4-5"), (11, "claude-sonnet-4-5"),
    ]
    nine = rows[1]
    assert (nine.calls, nine.ok, nine.partial, nine.input_tokens, nine.output_tokens) == (2, 1, 1, 30, 3)
    assert nine.cost_usd == 0.5 and nine.bucket == T0
    assert rows[3].calls == 0 and rows[3].cost_usd == 0.0
    eleven = rows[4]
    assert (eleven.calls, eleven.error, eleven.cache_tokens) == (2, 1, 7)
    assert eleven.cost_usd == 0.1 and eleven.unpriced_calls == 1


def test_timeline_by_day_starts_at_midnight_utc(engine):
    seed(engine, call(0), call(60 * 20), call(60 * 24 * 2))  # Mon 09:00, Tue 05:00, Wed 09:00
    rows = UsageService(engine).timeline(ADMIN, T0 - timedelta(hours=9), T0 + 3 * DAY, bucket="day")
    assert [(r.bucket.isoformat(), r.calls) for r in rows] == [
        ("2026-11-02T00:00:00+00:00", 1),
        ("2026-11-03T00:00:00+00:00", 1),
        ("2026-11-04T00:00:00+00:00", 1),
        ("2026-11-05T00:00:00+00:00", 0),
    ]
    with pytest.raises(ValueError, match="bucket"):
        UsageService(engine).timeline(ADMIN, T0, T0 + DAY, bucket="week")  # type: ignore[arg-type]


def test_csv_is_the_raw_log_with_iso_times_and_escaping(engine):
    seed(
        engine,
        call(1, owner='Ann "the admin", ops\nteam', request_id="req_2", cost_usd=0.0105,
             total_ms=1234.5, cache_hit=True),
        call(0, owner="=HYPERLINK(\"http://x\")", outcome="error", error_type="api_error",
             status_code=500, request_id="req_1"),
    )
    text = UsageService(engine).csv(ADMIN, T0, T0 + DAY)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert [r["request_id"] for r in rows] == ["req_1", "req_2"]  # oldest first
    first, second = rows
    assert first["created_at"] == "2026-11-02T09:00:00+00:00"
    assert datetime.fromisoformat(second["created_at"]) == T0 + timedelta(minutes=1)
    assert first["owner"].startswith("'=")  # a spreadsheet shows it, never runs it
    assert (first["status_code"], first["cost_usd"], first["ttft_ms"]) == ("500", "", "")
    assert second["owner"] == 'Ann "the admin", ops\nteam'  # quoted, round-trips
    assert (second["cost_usd"], second["total_ms"], second["cache_hit"]) == ("0.0105", "1234.5", "true")
    assert '"Ann ""the admin"", ops\nteam"' in text


def test_csv_has_only_a_header_for_an_empty_range_and_no_secret_columns(engine):
    text = UsageService(engine).csv(ADMIN, T0, T0 + DAY)
    assert text.strip() == ",".join(CSV_COLUMNS)
    assert not any(word in column for column in CSV_COLUMNS for word in ("key", "secret", "content"))


def test_a_chat_turn_records_its_cost(tmp_path, sandbox):
    service = build_service(tmp_path, sandbox.base_url)
    try:
        generation = service.send(AGENT, conversation_id=None, text="Where is order 1042?")
        finish(generation)
        with store.read_session(service.engine) as session:
            (row,) = store.list_api_calls(session=session)
        assert row.model in pricing.default_prices()
        assert row.cost_usd is not None and row.cost_usd > 0
        assert row.cost_usd == pricing.default_prices().cost(row.model, row).usd

        report = UsageService(service.engine).summary(ADMIN, row.created_at, row.created_at + DAY)
        assert report.total.calls == 1 and report.total.cost_usd == row.cost_usd
        assert report.total.unpriced_calls == 0
    finally:
        service.close()
        service.generations.shutdown()
        service.client.close()
        service.engine.dispose()


def test_flagged_ids_are_named_after_known_agents_and_unknown_ones_kept():
    from chatbot.services.call_log import name_users, opaque_user

    counts = {opaque_user("ana"): 2, opaque_user("ben"): 5, "f" * 32: 1}
    assert name_users(counts, ["ana", "ben", "cy"]) == [
        ("ben", 5), ("ana", 2), ("unknown agent ffffffff…", 1),
    ]
