"""Worker task ``devices``: what one framework sees (imports that framework only)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.core import contract


def run(params: dict[str, Any], workdir: Path) -> dict[str, Any]:
    info = contract.adapter_class(params["framework"]).devices()
    return {"devices": info.devices, "extra": info.build}
