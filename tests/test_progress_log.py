"""Progress in every log: with no terminal, one line per finished job (what, how long, elapsed, time left)."""

from __future__ import annotations

import io

from rich.console import Console

from bench.cli import progress


def test_without_a_terminal_each_finished_job_is_one_line() -> None:
    out = io.StringIO()
    console = Console(file=out, width=200)
    assert not console.is_terminal

    def work(show, after_each, say) -> None:  # type: ignore[no-untyped-def]
        for name in ("torch train b32", "jax train b32", "tensorflow train b32"):
            show(name)
            after_each()
        show("torch forward b32")  # a job the stop rule added beyond the plan
        after_each()

    assert progress.with_progress(console, 3, work, first=lambda show: show("GEMM reference")) is False
    lines = out.getvalue().splitlines()
    assert [line.split(":")[0] for line in lines] == ["[1/4] GEMM reference", "[2/4] torch train b32",
                                                       "[3/4] jax train b32", "[4/4] tensorflow train b32",
                                                       "[5/4] torch forward b32"]
    assert all(" s; elapsed " in line for line in lines)
    assert "left" in lines[1] and "the last planned job" in lines[3] and "beyond the plan" in lines[4]


def test_a_terminal_gets_the_live_display_and_no_job_lines() -> None:
    out = io.StringIO()
    console = Console(file=out, width=200, force_terminal=True)

    def work(show, after_each, say) -> None:  # type: ignore[no-untyped-def]
        show("torch train b32")
        after_each()

    progress.with_progress(console, 1, work)
    assert "[1/1]" not in out.getvalue()
