"""Framework name -> its :class:`~bench.core.registration.Registration`: the one place bench learns about
frameworks. Built-in registrations come from :mod:`impls.frameworks`; more can be added with
``BENCH_EXTRA_FRAMEWORKS=module:ATTRIBUTE[,module:ATTRIBUTE...]`` (workers inherit it).

Adapters are imported lazily, so ``import bench`` imports no framework.
"""

from __future__ import annotations

import functools
import importlib
import os

from bench.core.errors import FrameworkUnavailable, UsageError
from bench.core.registration import Registration

EXTRA_ENV = "BENCH_EXTRA_FRAMEWORKS"


def _load_extra(spec_text: str) -> Registration:
    module, sep, attr = spec_text.strip().partition(":")
    if not sep:
        raise UsageError(f"${EXTRA_ENV}: {spec_text!r} is not MODULE:ATTRIBUTE")
    try:
        reg = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise UsageError(f"${EXTRA_ENV}: cannot load {spec_text!r}: {exc}") from exc
    if not isinstance(reg, Registration):
        raise UsageError(f"${EXTRA_ENV}: {spec_text!r} is a {type(reg).__name__}, not a bench Registration")
    return reg


@functools.cache
def _registrations(extra: str) -> dict[str, Registration]:
    from impls.frameworks import BUILTIN

    regs = list(BUILTIN) + [_load_extra(s) for s in extra.split(",") if s.strip()]
    out: dict[str, Registration] = {}
    for reg in regs:
        if reg.name in out:
            raise UsageError(f"framework {reg.name!r} is registered twice (check ${EXTRA_ENV})")
        out[reg.name] = reg
    return out


def registrations() -> dict[str, Registration]:
    return _registrations(os.environ.get(EXTRA_ENV, ""))


def names() -> tuple[str, ...]:
    return tuple(registrations())


def get(name: str) -> Registration:
    """The registration of ``name``; an unknown name is a usage error listing the valid ones."""
    regs = registrations()
    if name not in regs:
        raise UsageError(f"unknown framework {name!r}; valid names: {', '.join(regs)}")
    return regs[name]


def available() -> list[str]:
    return [name for name, reg in registrations().items() if reg.is_available()]


def is_available(name: str) -> bool:
    return get(name).is_available()


def install_hint(name: str) -> str:
    return get(name).install_hint()


def require(name: str) -> None:
    reg = get(name)
    missing = reg.missing_modules()
    if missing:
        raise FrameworkUnavailable(f"framework {name!r} is not installed (missing module {', '.join(missing)}); "
                                   f"install it with: {reg.install_hint()}")


def gemm_order() -> list[str]:
    """Frameworks in the order they are asked for a run's fallback GEMM reference."""
    return sorted(registrations(), key=lambda n: registrations()[n].gemm_priority)
