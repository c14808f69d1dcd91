"""``bench data``: find MNIST, verify its checksums and describe it."""

from __future__ import annotations

import argparse
from typing import Any

from bench.cli import options, progress


def add_parser(sub: Any) -> None:
    p = sub.add_parser("data", help="find MNIST, verify its checksums and describe it")
    options.add_data(p, choices=())
    options.finish(p, main)


def main(args: argparse.Namespace) -> int:
    from bench.core import data
    from bench.output.tables import checks

    ds = data.locate_mnist(args.data_dir, allow_download=not args.no_download)
    console = progress.make_console()
    console.print(f"MNIST found in [bold]{ds.location}[/]; all four files match their MD5 checksums.")
    checks.data_table(ds, console)
    return 0
