"""CI's regression gate (``benchmarks/gate_experiment.py run --ci``, run by ``nox -s gate`` and ``.ci/run``)
judges its two real gates by their verdict words, not only by exit codes: an A/A gate that says
"inconclusive" exits 0 like "no change" does, but fails CI. The gates themselves are timing runs and are
not run here: ``one_gate`` is replaced by one that returns the gates' outcomes."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest

from benchmarks import gate_experiment as experiment


def _gate(verdict: str | None, exit_code: int, *more: str) -> dict[str, Any]:
    return {"verdict": verdict, "verdicts": [verdict, *more], "exit_code": exit_code, "stderr": ""}


@pytest.mark.parametrize(("aa", "ab", "ok"), [
    (_gate("no change", 0), _gate("regression", 1), True),
    (_gate("inconclusive", 0), _gate("regression", 1), False),  # exit 0, but the A/A settled nothing
    (_gate("regression", 1), _gate("regression", 1), False),  # a false alarm
    (_gate("no change", 0), _gate("inconclusive", 0), False),  # the plant missed
    (_gate("no change", 0), _gate("no change", 0), False),
    (_gate("no change", 0, "inconclusive"), _gate("regression", 1), False),  # every row must say it
    (_gate(None, 2), _gate("regression", 1), False),  # bench ab failed: no gate.json
    (_gate("no change", 2), _gate("regression", 1), False),  # the verdict with the wrong exit code
], ids=["expected", "aa-inconclusive", "aa-regression", "ab-inconclusive", "ab-no-change", "aa-one-row-off",
        "aa-no-gate", "aa-exit-2"])
def test_ci_needs_no_change_from_the_aa_and_regression_from_the_plant(aa: dict[str, Any], ab: dict[str, Any],
                                                                       ok: bool) -> None:
    got, line = experiment.ci_outcome(aa, ab)
    assert got is ok, line
    assert line.endswith("OK") if ok else "FAILED" in line


def test_a_stored_gate_without_the_row_list_is_judged_by_its_verdict() -> None:
    """experiment.json files written before ``verdicts`` existed hold one ``verdict`` per gate."""
    aa, ab = _gate("no change", 0), _gate("regression", 1)
    del aa["verdicts"], ab["verdicts"]
    assert experiment.ci_outcome(aa, ab)[0]
    assert not experiment.ci_outcome({**aa, "verdict": "inconclusive"}, ab)[0]


@pytest.mark.parametrize(("aa_verdict", "fails"), [("no change", False), ("inconclusive", True)])
def test_run_ci_exits_1_unless_the_aa_says_no_change(aa_verdict: str, fails: bool, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    outcomes = {"aa": _gate(aa_verdict, 0), "ab": _gate("regression", 1)}
    monkeypatch.setattr(experiment, "planted_commit", lambda base, images: "f" * 40)
    monkeypatch.setattr(experiment, "one_gate", lambda base, cand, out, extra: dict(
        outcomes["ab" if cand == "f" * 40 else "aa"], ratio=1.0, wall_s=1.0))
    args = argparse.Namespace(out=str(tmp_path), images=48, ab_args=[], pairs=None, steps=None, mode=None, gates=1,
                              aa_gates=None, ci=True)
    if fails:
        with pytest.raises(SystemExit) as stop:
            experiment.run(args)
        assert stop.value.code == 1
    else:
        experiment.run(args)
    out = capsys.readouterr().out
    assert f"CI gate: A/A {aa_verdict} (exit 0), planted regression (exit 1): " in out
    assert ("FAILED: A/A said inconclusive (exit 0), expected no change (exit 0)" in out) if fails else "OK" in out
