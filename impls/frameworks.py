"""The frameworks bench knows: one registration line each, next to the implementations.

Adding a framework is one new module in ``impls/`` (an adapter class, see
:class:`bench.core.contract.FrameworkAdapter`) plus one line in :data:`BUILTIN` (and its pip extra in
``pyproject.toml``). A framework kept outside this repository registers the same record through
``BENCH_EXTRA_FRAMEWORKS=package.module:REGISTRATION`` (comma-separated; inherited by workers).

This module imports no framework: a registration is data, read before any worker starts.
"""

from __future__ import annotations

import os

from bench.core.registration import Registration
from bench.model import spec


def _xla_threads(threads: int) -> dict[str, str]:
    """XLA's CPU backend has no thread-count knob beyond one; the worker's CPU affinity binds the rest."""
    if threads != 1:
        return {}
    flags = os.environ.get("XLA_FLAGS", "")
    return {"XLA_FLAGS": f"{flags} --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1".strip()}


def _tf_threads(threads: int) -> dict[str, str]:
    return {"TF_NUM_INTRAOP_THREADS": str(threads), "TF_NUM_INTEROP_THREADS": "1"}


def _cudnn_lrn(params: spec.LrnParams) -> list[str]:
    return [f"{p} (TensorFlow's GPU LRN is cuDNN's)" for p in params.cudnn_problems()]


BUILTIN: tuple[Registration, ...] = (
    Registration(
        "torch", "impls.torch_alexnet:TorchAlexNet", requires=("torch",), extra="torch", packages=("torch",),
        compile_modes=("eager", "compile"), lrn_impls=("module", "compiled", "conv1x1"), gemm_priority=0,
        compile_help="eager, or the model under torch.compile",
        lrn_impl_help="nn.LocalResponseNorm eager, that module under torch.compile, or the channel sum as a 1x1 "
                      "conv with a banded kernel (eager)",
        tunings={"retain_memory": "glibc malloc keeps freed memory (mallopt: no mmap, no trim), so activations "
                                  "freed each step are not re-faulted from the OS the next"},
        env_flags=("TORCH_ALLOW_TF32_CUBLAS_OVERRIDE",), tf32_env=("TORCH_ALLOW_TF32_CUBLAS_OVERRIDE",),
    ),
    Registration(
        "tensorflow", "impls.tensorflow_alexnet:TensorFlowAlexNet", requires=("tensorflow",), extra="tensorflow",
        packages=("tensorflow",), compile_modes=("function", "xla", "eager"), lrn_impls=("op", "xla"),
        gemm_priority=2, compile_help="tf.function, tf.function(jit_compile=True), or eager",
        lrn_impl_help="tf.nn.local_response_normalization, or that op under jit_compile",
        gpu_lrn_problems=_cudnn_lrn, env={"TF_FORCE_GPU_ALLOW_GROWTH": "true"},
        env_defaults={"TF_CPP_MIN_LOG_LEVEL": "2"}, threads_env=_tf_threads,
        env_flags=("TF_XLA_FLAGS", "TF_ENABLE_ONEDNN_OPTS", "NVIDIA_TF32_OVERRIDE"),
    ),
    Registration(
        "jax", "impls.jax_alexnet:JaxAlexNet", requires=("jax", "optax"), extra="jax",
        packages=("jax", "jaxlib", "optax"), compile_modes=("jit",), lrn_impls=("reduce_window", "matmul", "conv"),
        gemm_priority=1, compile_help="jax.jit with donated state",
        lrn_impl_help="three exact channel-window sums: lax.reduce_window, a banded matmul, a 1-D conv",
        tunings={"reshape_pool": "max-pooling as a reshape and a max, whose gradient is a mask, instead of "
                                 "lax.reduce_window, whose gradient XLA:CPU lowers to index-tracking windows and a "
                                 "scatter"},
        env={"XLA_PYTHON_CLIENT_PREALLOCATE": "false"}, cpu_env={"JAX_PLATFORMS": "cpu"},
        threads_env=_xla_threads, env_flags=("XLA_FLAGS",),
    ),
)
