"""``bench help``: the command reference is generated from the parsers, the checked-in docs/cli.md is
what they generate now, and the text is the same on every machine and terminal."""

from __future__ import annotations

import argparse
import difflib
from pathlib import Path

import pytest

from bench.cli import build_parser, main, options
from bench.cli.commands import help as help_command
from bench.core import registry

ROOT = Path(__file__).resolve().parent.parent
CLI_MD = ROOT / "docs" / "cli.md"


@pytest.fixture
def builtin_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """The reference lists the built-in frameworks: a framework added through the environment is not part of it."""
    monkeypatch.delenv(registry.EXTRA_ENV, raising=False)


def _generated() -> str:
    return help_command.markdown(build_parser())


def test_checked_in_reference_is_current(builtin_only: None) -> None:
    generated, stored = _generated(), CLI_MD.read_text(encoding="utf-8") if CLI_MD.exists() else ""
    if generated != stored:
        diff = "".join(list(difflib.unified_diff(stored.splitlines(True), generated.splitlines(True),
                                                 "docs/cli.md (checked in)", "what the parsers say now"))[:40])
        pytest.fail(f"docs/cli.md is stale: regenerate it with `{help_command.REGENERATE}` and commit it\n{diff}")


def _all_parsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    return [p for _summary, p in help_command.walk(parser)]


def test_reference_has_every_command_option_and_default(builtin_only: None) -> None:
    text = _generated()
    parsers = _all_parsers(build_parser())
    assert {p.prog for p in parsers} >= {"bench run", "bench compare", "bench history append", "bench help"}
    for parser in parsers:
        assert f"## {parser.prog}\n" in text
        for action in parser._actions:
            for flag in action.option_strings:
                if flag not in ("-h", "--help"):
                    assert flag in text, (parser.prog, flag)
    # defaults as a user types them: a percentage, a list, a float that is a whole number
    assert "| `--noise-floor PCT` | `3` |" in text
    assert "| `--batch-size BATCH_SIZE [BATCH_SIZE ...]` | `128` |" in text
    assert "| `--timeout TIMEOUT` | `1800` |" in text
    # the help's %% is printed as %, and | inside a table cell is escaped
    assert "95%%" not in text and "with 95% CIs" in text
    assert "torch=eager\\|compile" in text


def test_reference_is_the_same_on_every_terminal_and_machine(builtin_only: None,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "40")
    monkeypatch.setattr(options, "usable_cores", lambda: 1)
    narrow_one_core = _generated()
    monkeypatch.setenv("COLUMNS", "250")
    monkeypatch.setattr(options, "usable_cores", lambda: 96)
    assert _generated() == narrow_one_core


def test_help_markdown_writes_the_file(builtin_only: None, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sub" / "cli.md"
    assert main(["help", "--markdown", "--out", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == _generated()
    assert str(out) in capsys.readouterr().err


def test_help_markdown_of_one_command(builtin_only: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["help", "--markdown", "history"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("## bench history\n")
    assert "## bench history append\n" in text and "## bench run\n" not in text


@pytest.mark.parametrize("topic, expected", [(["run"], "usage: bench run"),
                                             (["history", "append"], "usage: bench history append")])
def test_help_prints_one_commands_help(topic: list[str], expected: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["help", *topic]) == 0
    assert capsys.readouterr().out.startswith(expected)


@pytest.mark.parametrize("argv, fragment", [
    (["help", "nope"], "bench has no command 'nope'; known: data, verify, run"),
    (["help", "report", "x"], "bench report has no command 'x'; known: none"),
    (["help", "run", "--out", "x.md"], "--out has no effect without --markdown"),
])
def test_help_bad_input_is_one_line(argv: list[str], fragment: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert fragment in err and err.count("\n") == 1
