"""The rate-limit benchmark runs end to end, time-compressed: 25 requests against a sandbox
that refuses more than 20 in any 1 s (scale 60), and its result has the recorded shape."""

from __future__ import annotations

import json

from benchmarks import ratelimit


def test_a_scaled_run_paces_requests_and_reports_its_figures():
    result = ratelimit.run(scale=60, requests=25)
    assert result["requests"] == 25 and result["limit_rpm"] == 1200
    assert result["config"]["sandbox_window_s"] == 1.0
    # Paced one every 50 ms (burst 1), the 25th goes about 1.2 s after the first.
    assert result["elapsed_s"] >= 24 / 1200 * 60 * 0.95
    assert result["ratio"] <= 1.05
    assert "achieved rpm" in ratelimit.format_table(result)
    json.dumps(result)  # what __main__ writes must serialise
