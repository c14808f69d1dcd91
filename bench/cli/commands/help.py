"""``bench help [COMMAND...]`` and ``bench help --markdown [--out FILE]``: the command reference, read
from the parsers themselves so that it cannot drift from what the commands accept.

``docs/cli.md`` is this command's Markdown output, checked in; ``tests/test_cli_reference.py`` fails
when it differs from what the parsers say now. The Markdown is the same on every machine: a fixed
width, no terminal query, and no option whose text or default depends on the machine (such an option
says what it depends on instead, e.g. ``--threads``, ``--base-python``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.cli import options
from bench.core.errors import UsageError

WIDTH = 100  # usage lines wrap here, whatever the terminal
REGENERATE = "python -m bench help --markdown --out docs/cli.md"


def add_parser(sub: Any) -> None:
    p = sub.add_parser("help", help="every command's options and defaults; --markdown: the reference in docs/cli.md")
    p.add_argument("topic", nargs="*", metavar="COMMAND",
                   help="a command (or 'history append'); with --markdown, only its section [default: every command]")
    p.add_argument("--markdown", action="store_true", help="write the reference as Markdown (docs/cli.md)")
    p.add_argument("--out", metavar="FILE", help="with --markdown: write it to FILE [default: standard output]")
    options.finish(p, main)


def main(args: argparse.Namespace) -> int:
    from bench.cli import build_parser  # the parser that holds this command; imported when run, not at load

    root = build_parser()
    summary, target = find(root, args.topic)
    if not args.markdown:
        options.refuse(args, ["out"], "without --markdown")
        target.print_help()
        return 0
    text = markdown(target, whole=target is root, summary=summary)
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
        print(f"bench help: wrote {out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


# --- walking the parsers -----------------------------------------------------------------------------
def subcommands(parser: argparse.ArgumentParser) -> list[tuple[str, str, argparse.ArgumentParser]]:
    """(name, one-line help, parser) of each subcommand of ``parser``, in the order --help lists them."""
    out = []
    formatter = _formatter(parser)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: formatter._expand_help(a) if a.help else "" for a in action._get_subactions()}
            out += [(name, helps.get(name, ""), p) for name, p in action.choices.items()]
    return out


def walk(parser: argparse.ArgumentParser) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    """Every command parser under ``parser`` (a command with subcommands, then each of them), depth first."""
    for _name, summary, sub in subcommands(parser):
        yield summary, sub
        yield from walk(sub)


def find(root: argparse.ArgumentParser, topic: list[str]) -> tuple[str, argparse.ArgumentParser]:
    """(one-line help, parser) of ``bench TOPIC...``; an unknown name is one line listing the known ones."""
    summary, parser = "", root
    for i, word in enumerate(topic):
        known = {name: (h, p) for name, h, p in subcommands(parser)}
        if word not in known:
            where = " ".join(["bench", *topic[:i]])
            raise UsageError(f"bench help: {where} has no command {word!r}; "
                             f"known: {', '.join(known) or 'none (it takes no subcommand)'}")
        summary, parser = known[word]
    return summary, parser


# --- Markdown ----------------------------------------------------------------------------------------
def _formatter(parser: argparse.ArgumentParser) -> argparse.HelpFormatter:
    return argparse.HelpFormatter(parser.prog, width=WIDTH)


def usage(parser: argparse.ArgumentParser) -> str:
    """The usage lines argparse prints, wrapped at :data:`WIDTH`."""
    formatter = _formatter(parser)
    formatter.add_usage(parser.usage, parser._actions, parser._mutually_exclusive_groups)
    return formatter.format_help().strip()


def default_text(action: argparse.Action) -> str:
    """The default as a user would type it; empty when there is none (the help text then says what
    happens)."""
    default = action.default
    if action.nargs == 0:  # a switch: off unless given
        return ""
    if default is None or default is argparse.SUPPRESS or default == []:
        return ""
    if action.type is options.percent:  # stored as a fraction, typed as a percentage
        return f"{100 * default:g}"
    if isinstance(default, list | tuple):
        return " ".join(str(v) for v in default)
    if isinstance(default, float) and default.is_integer():
        return str(int(default))
    return str(default)


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _code(text: str) -> str:
    return f"`{text}`".replace("|", "\\|") if text else ""


def options_table(parser: argparse.ArgumentParser) -> list[str]:
    """One row per argument (positionals first, then options, each group in order), --help left out."""
    formatter = _formatter(parser)
    rows = []
    for group in parser._action_groups:
        for action in group._group_actions:
            if isinstance(action, argparse._HelpAction | argparse._SubParsersAction):
                continue
            invocation = formatter._format_action_invocation(action)
            text = formatter._expand_help(action) if action.help else ""
            rows.append(f"| {_code(invocation)} | {_code(default_text(action))} | {_cell(text)} |")
    if not rows:
        return []
    return ["| argument | default | what it does |", "|---|---|---|", *rows]


def _anchor(prog: str) -> str:
    return prog.replace(" ", "-")


def section(summary: str, parser: argparse.ArgumentParser) -> list[str]:
    lines = [f"## {parser.prog}", ""]
    if summary:
        lines += [_cell(summary[0].upper() + summary[1:]) + ".", ""]
    if parser.description:
        lines += [" ".join(parser.description.split()), ""]
    lines += ["```text", usage(parser), "```", ""]
    table = options_table(parser)
    if table:
        lines += [*table, ""]
    commands = subcommands(parser)
    if commands:
        lines += ["Commands: " + ", ".join(f"[`{name}`](#{_anchor(p.prog)})" for name, _h, p in commands) + ".", ""]
    return lines


def markdown(parser: argparse.ArgumentParser, whole: bool = True, summary: str = "") -> str:
    """The reference: with ``whole``, a title and an index, then a section per command under
    ``parser``; else the section of ``parser`` (whose one-line help is ``summary``) and its
    subcommands alone."""
    lines: list[str] = []
    if whole:
        lines += [f"# `{parser.prog}` command reference", "",
                  f"Generated from the parsers by `{REGENERATE}`; do not edit it by hand "
                  "(`tests/test_cli_reference.py` fails when it is stale). `python -m bench help COMMAND` "
                  "prints one command's help. Exit codes: 0 success, 1 a failed check or run, 2 bad input, "
                  "130 interrupted.", ""]
        if parser.description:
            lines += [" ".join(parser.description.split()), ""]
        lines += ["| command | what it does |", "|---|---|"]
        lines += [f"| [`{p.prog}`](#{_anchor(p.prog)}) | {_cell(summary)} |" for summary, p in walk(parser)]
        lines.append("")
        sections = list(walk(parser))
    else:
        sections = [(summary, parser), *walk(parser)]
    for summary, sub in sections:
        lines += section(summary, sub)
    return "\n".join(lines).rstrip() + "\n"
