"""``bench env``: installed frameworks, versions, devices and GPU details."""

from __future__ import annotations

import argparse
from typing import Any

from bench.cli import options, progress
from bench.core import provenance, registry
from bench.output.tables import checks


def add_parser(sub: Any) -> None:
    p = sub.add_parser("env", help="installed frameworks, versions, devices and GPU details")
    p.add_argument("--no-probe", action="store_true", help="do not start a worker per framework to list devices")
    p.add_argument("--timeout", type=options.positive_float, default=120.0, help="seconds per probe [120]")
    options.finish(p, main)


def main(args: argparse.Namespace) -> int:
    from bench.execution.runner import run_worker

    if args.no_probe:
        options.refuse(args, ["timeout"], "with --no-probe")
    info = provenance.collect()
    frameworks = []
    for name, reg in registry.registrations().items():
        versions = {p: info["packages"].get(p) for p in reg.packages if info["packages"].get(p)}
        if not reg.is_available():
            text = f"not installed ({reg.install_hint()})"
        else:
            text = ", ".join(f"{k} {v}" for k, v in versions.items())
            if not args.no_probe:
                out = run_worker("devices", {"framework": name}, device="gpu" if provenance.has_gpu() else "cpu",
                                 timeout=args.timeout)
                text += (f"; {out.result['extra']}; devices: {', '.join(out.result['devices'])}"
                         if out.status == "ok" else f"; device probe {out.status}: {out.error}")
        frameworks.append({"framework": name, "text": text})
    checks.env_table(info, frameworks, progress.make_console())
    return 0
