"""The tables of ``bench parity``: accuracy and time to accuracy per framework, the pairwise equivalence
verdicts, and (``--trajectory``) how far the loss curves drift apart. Rows from
:mod:`bench.analysis.parity_stats`."""

from __future__ import annotations

from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

from bench.output.tables.cells import fmt


def parity_tables(summary: list[dict[str, Any]], pairs: list[dict[str, Any]], console: Console) -> None:
    table = Table(title="Accuracy parity on MNIST (10,000 test images)", title_justify="left", box=box.SIMPLE_HEAD,
                  pad_edge=False, collapse_padding=True)
    for h in ("framework", "seeds", "final test acc %", "last checkpoint %", "test loss", "train time s",
              "time to 98%", "time to 99%", "step ms [95% CI]", "status"):
        table.add_column(h, justify="left" if h in ("framework", "status") else "right")
    for s in summary:
        if not s.get("seeds"):
            table.add_row(s["framework"], "0", *["-"] * 7, f"{s['status']}: {s.get('error') or ''}"[:60])
            continue
        sd = f" ± {s['final_acc_sd']:.2f}" if s.get("final_acc_sd") is not None else ""
        t98, t99 = s.get("time_to_98_s"), s.get("time_to_99_s")
        reach = [f"{t:.0f} s ({s[k]})" if t is not None else f"not reached ({s[k]})"
                 for t, k in ((t98, "reached_98"), (t99, "reached_99"))]
        status = s["status"] + (f" PLANTED {s['planted'].split(':')[0]}" if s.get("planted") else "")
        table.add_row(s["framework"], str(s["seeds"]), f"{s['final_acc_mean']:.2f}{sd}",
                      f"{s['last_checkpoint_acc']:.2f}", f"{s['final_test_loss']:.4f}", f"{s['train_time_s']:.0f}",
                      *reach, f"{s['step_mean_ms']:.0f} [{s['step_ci_low_ms']:.0f}, {s['step_ci_high_ms']:.0f}]",
                      status, style="yellow" if s.get("planted") else None)
    console.print(table)
    if pairs:
        pt = Table(title="Pairwise difference of final accuracy (paired by seed) against the margin",
                   title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
        for h in ("pair", "seeds", "difference pp", "90% CI (TOST)", "margin", "verdict", "detectable pp",
                  "seeds to settle"):
            pt.add_column(h, justify="left" if h in ("pair", "verdict") else "right")
        colour = {"PASS": "green", "FAIL": "bold red", "INCONCLUSIVE": "yellow"}
        for p in pairs:
            ci = f"[{p['ci90_low_pp']:+.2f}, {p['ci90_high_pp']:+.2f}]" if p["seeds"] > 1 else "- (1 seed)"
            pt.add_row(f"{p['a']} - {p['b']}", str(p["seeds"]), f"{p['diff_pp']:+.2f}", ci, f"±{p['margin_pp']:g}",
                       f"[{colour[p['verdict']]}]{p['verdict']}[/]", fmt(p.get("detectable_pp"), ".2f"),
                       str(p["seeds_needed"]) if p.get("seeds_needed") else "-")
        console.print(pt)
        console.print("PASS: the 90% interval lies inside ±margin (two one-sided tests at 5%); FAIL: it lies beyond "
                      "the margin; detectable: the smallest difference this many seeds could have found (5% two-sided, "
                      "80% power).")
    console.print("train time excludes evaluation and includes each batch's host-to-device copy; time to N%: "
                  "training time at the first evaluation at or above N% (resolution: --eval-every).")


def trajectory_table(rows: list[dict[str, Any]], console: Console) -> None:
    fws = [k[5:] for k in rows[0] if k.startswith("loss_")]
    table = Table(title="Loss trajectories, dropout off, same batches: how float32 rounding grows",
                  title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    for h in ["step", *fws, "max rel diff", "envelope"]:
        table.add_column(h, justify="right")
    marks = {1, 2, 3, 5, 10, 20, 30, 50, 75, 100, 200, 500, len(rows)}
    for r in rows:
        if r["step"] in marks:
            table.add_row(str(r["step"]), *[f"{r['loss_' + fw]:.5f}" for fw in fws], f"{r['max_rel_diff']:.1e}",
                          f"{r['envelope']:.1e}")
    console.print(table)
    console.print("max rel diff: largest |loss_a - loss_b| / |loss_b| over framework pairs; envelope: the "
                  "tolerance tests/test_parity.py defends (doubling from 1e-4 per step, capped at 15%).")
