"""What ``bench bisect`` and ``bench ab --profile`` print and write: the probes and the verdict (a rich
table, and ``bisect.md``), and the profile diff (``profile_diff.csv`` and a rich table)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from bench.analysis import bisection, profile_diff
from bench.core import storage
from bench.execution import ab_profile
from bench.execution.bisect import State

DIFF_CSV = "profile_diff.csv"
REPORT_MD = "bisect.md"


def _interval(lo: Any, hi: Any) -> str:
    return f"[{lo:.3f}, {hi:.3f}]" if isinstance(lo, float) and math.isfinite(lo) else ""


def probe_rows(state: State) -> list[list[str]]:
    """One row per probe: number, commit, against, kind, outcome, ratio [interval], pairs, seconds."""
    out = []
    for i, p in enumerate(state.probes):
        outcome = p["outcome"] + (" (budget spent: by the point estimate)" if p.get("forced") else "")
        if p["outcome"] == bisection.SKIPPED:
            outcome += f": {p['reason']}"
        ratio = f"{p['ratio']:.3f} {_interval(p['ci_low'], p['ci_high'])}" if p.get("ratio") else "-"
        out.append([str(i + 1), f"{p['commit'][:10]} {p['subject'][:40]}", p["base_commit"][:10], p["kind"], outcome,
                    ratio, str(p["pairs"]), f"{p['seconds']:.0f}"])
    return out


HEAD = ("#", "commit", "against", "probe", "outcome", "ratio [interval]", "pairs", "s")


def verdict(state: State, step: bisection.Step) -> list[str]:
    """The answer in a few lines: the culprit (hash, subject) and its effect, or why there is none."""
    good, bad = state.good["hash"][:10], state.bad["hash"][:10]
    skipped = [p for p in state.probes if p["outcome"] == bisection.SKIPPED]
    lines = []
    if step.action in (bisection.FOUND, bisection.UNCONFIRMED) and step.index is not None:
        c = state.commits[step.index]
        confirm = [p for p in state.probes if p["kind"] == bisection.CONFIRM and p["index"] == step.index][-1]
        effect = f"{confirm['ratio']:.3f}x {_interval(confirm['ci_low'], confirm['ci_high'])}"
        if step.action == bisection.FOUND:
            lines.append(f"Culprit: {c['hash']} {c['subject']}")
            lines.append(f"Effect: {effect} against {confirm['base_commit'][:10]} (step time, candidate / base, "
                         f"{confirm['pairs']} lockstep pairs)")
        else:
            lines.append(f"Not confirmed: {c['hash'][:10]} {c['subject']} was '{confirm['outcome']}' against "
                         f"{confirm['base_commit'][:10]} ({effect}); the slowdown may be spread over several commits")
        if step.suspects:
            names = ", ".join(state.commits[i]["hash"][:10] for i in step.suspects)
            lines.append(f"Or one of the skipped commits just before it: {names}")
        if confirm.get("profile_headline"):
            lines.append(f"Where: {confirm['profile_headline']}")
    elif step.action == bisection.NO_REGRESSION:
        lines.append(f"No regression between GOOD {good} and BAD {bad}: BAD against GOOD is the same")
    elif step.action == bisection.BAD_DOES_NOT_RUN:
        lines.append(f"BAD {bad} does not run: {state.probes[-1]['reason']}")
    for p in skipped:
        lines.append(f"Skipped {p['commit'][:10]} {p['subject']}: {p['reason']}")
    n = len(state.probes) - len(skipped)
    lines.append(f"{len(state.commits)} commits, {n} probes ({len(skipped)} skipped), {state.seconds / 60:.1f} "
                 "minutes measuring")
    return lines


def table(state: State, console: Any) -> None:
    from rich.table import Table

    t = Table(title=f"bench bisect {state.good['hash'][:10]}..{state.bad['hash'][:10]}")
    for h in HEAD:
        t.add_column(h)
    for row in probe_rows(state):
        t.add_row(*row)
    console.print(t)


def markdown(state: State, step: bisection.Step) -> str:
    head = "| " + " | ".join(HEAD) + " |\n|" + "---|" * len(HEAD) + "\n"
    body = "".join("| " + " | ".join(cell.replace("|", "/") for cell in row) + " |\n" for row in probe_rows(state))
    return (f"# bench bisect {state.good['hash'][:10]}..{state.bad['hash'][:10]}\n\n"
            + "".join(f"- {line}\n" for line in verdict(state, step)) + "\n" + head + body)


def write(run_dir: Path, state: State, step: bisection.Step) -> None:
    storage.atomic_write(run_dir / REPORT_MD, markdown(state, step))


def profile(job_dir: Path, console: Any, top: int = 12) -> list[dict[str, Any]]:
    """The diff of a job's interleaved profiles: profile_diff.csv in ``job_dir`` and a table of the rows
    that added most; the rows, ranked."""
    rows = profile_diff.diff(ab_profile.load(job_dir, "base"), ab_profile.load(job_dir, "candidate"))
    storage.write_rows(job_dir / DIFF_CSV, rows, columns=profile_diff.COLUMNS)
    if not rows:
        console.print("[yellow]profile diff: no scope was profiled on both sides (see profile/*/results.jsonl)[/]")
        return rows
    from rich.table import Table

    t = Table(title="Where the candidate spends more: ms per step by scope and pass, ranked by ms added")
    for h in ("framework", "mode", "source", "scope", "pass", "base ms", "candidate ms", "added ms",
              "ratio [95% over rounds]", "rounds"):
        t.add_column(h)
    for r in rows[:top]:
        ratio = f"{r['ratio']:.2f}x {_interval(r['ci_low'], r['ci_high'])}" if math.isfinite(r["ratio"]) else "-"
        t.add_row(r["framework"], r["mode"], r["source"], r["scope"], r["pass"], f"{r['base_ms']:.3f}",
                  f"{r['candidate_ms']:.3f}", f"{r['added_ms']:+.3f}", ratio, str(r["rounds"]))
    console.print(t)
    console.print(f"Top: {profile_diff.headline(rows)}; all rows in {job_dir / DIFF_CSV}")
    return rows
