"""The search benchmark runs end to end on a small history and both ways of searching
agree on what they find. Timings are not asserted."""

from __future__ import annotations

import json
import sqlite3

from benchmarks import search
from benchmarks.__main__ import main


def test_generated_history_is_indexed_and_both_searches_agree():
    result = search.run(messages=600, rounds=1)
    assert result["config"]["messages"] == 600 and result["config"]["conversations"] == 60
    assert set(result["cases"]) == {name for name, _ in search.CASES}
    for name, row in result["cases"].items():
        assert row["fts_median_ms"] > 0 and row["like_median_ms"] > 0
        # The scan is the reference: FTS5 must find exactly as many conversations.
        assert row["conversations_fts"] == row["conversations_like"], name
    assert result["cases"]["common word"]["conversations_fts"] > 0
    json.dumps(result)
    assert "LIKE scan" in search.format_table(result)


def test_generate_writes_rows_the_triggers_index(tmp_path):
    path = tmp_path / "history.db"
    assert search.generate(path, conversations=20, per_conversation=4) == 80
    db = sqlite3.connect(path)
    try:
        indexed = db.execute(
            "SELECT count(*) FROM message_fts WHERE message_fts MATCH 'order'"
        ).fetchone()[0]
        scanned = db.execute("SELECT count(*) FROM message WHERE content LIKE '%order%'").fetchone()[0]
        assert indexed == scanned > 0
    finally:
        db.close()


def test_quick_flag_runs_without_writing_results(capsys, monkeypatch, tmp_path):
    monkeypatch.setattr("benchmarks.__main__.RESULTS", tmp_path)
    real_run, asked = search.run, []

    def small(n, rounds, progress):
        asked.append((n, rounds))
        return real_run(messages=200, rounds=1)

    monkeypatch.setattr(search, "run", small)
    assert main(["--search", "--quick"]) == 0
    assert asked == [(5_000, 2)]
    assert "first page of 50" in capsys.readouterr().out
    assert not (tmp_path / "search.json").exists()
