"""bench/report.py: the results table says how far one run's ratios moved from round to round."""

from __future__ import annotations

from bench.load import Result, Sample
from bench.report import Row, table


def _result(*rps: float) -> Result:
    return Result(samples=[Sample(rps=r, p50_ms=1.0, p99_ms=2.0) for r in rps])


def test_ratios_round_by_round_are_in_the_notes() -> None:
    ours, floor, peer = _result(90, 80, 100), _result(100, 100, 100), _result(40, 50, 20)
    line = table([Row("getClaim", "Claimsbase", "1", ours, vs_floor=floor, vs_peer=peer)]).splitlines()[-1]
    assert "| 0.90× | 2.25× |" in line  # medians: 90 / 100 and 90 / 40
    assert "rounds 0.80–1.00× the floor" in line
    assert "rounds 1.60–5.00× PostGraphile" in line


def test_no_round_note_without_paired_rounds() -> None:
    one, uneven = _result(90), _result(90, 80)
    rows = [
        Row("a", "Claimsbase", "1", one, vs_floor=_result(100)),  # a single round: nothing to spread
        Row("b", "Claimsbase", "1", uneven, vs_floor=_result(100, 100, 100)),  # a round lost: not paired
        Row("c", "Claimsbase", "1", uneven, vs_floor=Result(skipped="server not running")),
        Row("d", "floor", "1", uneven),
    ]
    assert "rounds" not in table(rows)
