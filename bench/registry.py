"""Framework name -> adapter class, resolved lazily so that ``import bench`` imports no framework."""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING, Any

from bench.config import FRAMEWORKS, ModelConfig, check_framework
from bench.errors import FrameworkUnavailable

if TYPE_CHECKING:
    from bench.adapter import FrameworkAdapter

ADAPTERS: dict[str, str] = {
    "torch": "impls.torch_alexnet:TorchAlexNet",
    "tensorflow": "impls.tensorflow_alexnet:TensorFlowAlexNet",
    "jax": "impls.jax_alexnet:JaxAlexNet",
}
# Top-level modules each adapter needs, and the pip extra that brings them.
REQUIRES: dict[str, tuple[str, ...]] = {
    "torch": ("torch",),
    "tensorflow": ("tensorflow",),
    "jax": ("jax", "optax"),
}
EXTRAS: dict[str, str] = {name: name for name in FRAMEWORKS}


def missing_modules(name: str) -> list[str]:
    check_framework(name)
    return [mod for mod in REQUIRES[name] if importlib.util.find_spec(mod) is None]


def is_available(name: str) -> bool:
    return not missing_modules(name)


def available() -> list[str]:
    return [name for name in FRAMEWORKS if is_available(name)]


def install_hint(name: str) -> str:
    return f"pip install 'bench[{EXTRAS[name]}]'  (or: nox -s {name})"


def require(name: str) -> None:
    missing = missing_modules(name)
    if missing:
        raise FrameworkUnavailable(
            f"framework {name!r} is not installed (missing module {', '.join(missing)}); "
            f"install it with: {install_hint(name)}"
        )


def adapter_class(name: str) -> type[FrameworkAdapter]:
    require(name)
    module, _, cls = ADAPTERS[name].partition(":")
    loaded: Any = getattr(importlib.import_module(module), cls)
    return loaded  # type: ignore[no-any-return]


def get_adapter(name: str, lrn: bool = False, device: str = "cpu", **options: Any) -> FrameworkAdapter:
    """Build the adapter for ``name`` with canonical ``he`` weights from ``seed`` loaded.

    ``options`` are the other :class:`bench.config.ModelConfig` fields: dropout, compile,
    lrn_impl, threads, init, seed.
    """
    config = ModelConfig(framework=check_framework(name), lrn=lrn, device=device, **options)
    return adapter_class(name)(config)
