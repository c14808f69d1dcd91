"""Worker task ``parity``: train one framework on real MNIST for ``bench parity``.

Every framework trains from the same canonical init, in the same data order (one seeded
permutation per epoch, shared: the result carries its digest so the parent can check), with the
same hyperparameters, each (framework, seed) in its own worker. The pure summary is in
:mod:`bench.analysis.parity_stats`, the command in :mod:`bench.cli.commands.parity`.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.core import contract, data
from bench.core.config import ModelConfig
from impls import reference

EVAL_BATCH = 1000


def epoch_order(seed: int, epoch: int, n: int) -> np.ndarray:
    """The permutation every framework uses for this (seed, epoch)."""
    return np.random.default_rng([seed, epoch]).permutation(n)


def evaluate(adapter: Any, images: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """Test accuracy (%) and mean cross-entropy, in inference mode, in batches."""
    correct, loss_sum = 0, 0.0
    for i in range(0, len(images), EVAL_BATCH):
        logits = np.asarray(adapter.logits(images[i:i + EVAL_BATCH]), np.float64)
        y = labels[i:i + EVAL_BATCH]
        correct += int((logits.argmax(axis=1) == y).sum())
        loss, _ = reference.softmax_xent(logits, y)
        loss_sum += loss * len(y)
    return 100.0 * correct / len(images), loss_sum / len(images)


def run(params: dict[str, Any], workdir: Path) -> dict[str, Any]:
    model = ModelConfig(**params["model"])
    adapter = contract.adapter_class(model.framework)(model)
    ds = data.locate_mnist(params["data_dir"], allow_download=False)
    n_train = int(params["train_size"])
    x_train, y_train = ds.train_images[:n_train], ds.train_labels[:n_train]
    batch, epochs, seed = int(params["batch_size"]), int(params["epochs"]), model.seed
    eval_every = int(params.get("eval_every") or 0)
    max_steps = int(params.get("max_steps") or 0)  # trajectory mode: a fixed number of steps, no eval
    steps_per_epoch = n_train // batch  # the last partial batch is dropped, the same in every framework
    losses: list[float] = []
    step_ns: list[int] = []
    evals: list[dict[str, Any]] = []
    train_s = 0.0
    status, error = "ok", None
    step = 0

    def record_eval() -> None:
        acc, loss = evaluate(adapter, ds.test_images, ds.test_labels)
        evals.append({"step": step, "epoch": step / steps_per_epoch, "test_acc": acc, "test_loss": loss,
                      "train_time_s": train_s})

    pending: list[Any] = []

    def flush() -> bool:
        """Read pending losses (after the timed steps); False when training diverged."""
        nonlocal status, error
        losses.extend(adapter.loss_value(r) for r in pending)
        pending.clear()
        bad = [i for i, v in enumerate(losses) if not np.isfinite(v)]
        if bad:
            status, error = "diverged", f"loss {losses[bad[0]]} at step {bad[0] + 1}"
            return False
        return True

    digest = hashlib.sha256()
    for epoch in range(epochs):
        order = epoch_order(seed, epoch, n_train)
        digest.update(order[: steps_per_epoch * batch].astype("<i8").tobytes())
        for b in range(steps_per_epoch):
            idx = order[b * batch:(b + 1) * batch]
            adapter.synchronize()
            t0 = time.perf_counter_ns()
            result = adapter.train_step(adapter.prepare(x_train[idx], y_train[idx]))
            adapter.synchronize()
            dt = time.perf_counter_ns() - t0
            step_ns.append(dt)
            train_s += dt / 1e9
            pending.append(result)
            step += 1
            if max_steps and step >= max_steps:
                break
            if eval_every and step % eval_every == 0 and b != steps_per_epoch - 1:
                if not flush():
                    break
                record_eval()
        if not flush():
            break
        if max_steps:
            if step >= max_steps:
                break
            continue
        record_eval()
    return {"status_detail": status, "error": error, "losses": losses, "evals": evals, "step_ns": step_ns,
            "train_time_s": train_s, "steps_per_epoch": steps_per_epoch,
            "data_order_sha256": digest.hexdigest(), "versions": adapter.versions(),
            "describe": adapter.describe()}
