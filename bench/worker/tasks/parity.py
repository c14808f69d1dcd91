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
from bench.model import reference

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


class Training:
    """One framework's training run, step by step: the timed steps, the losses read after them (never
    inside a timed step), and the evaluations, with the status they end in."""

    def __init__(self, adapter: Any, ds: data.Dataset, n_train: int, batch: int) -> None:
        self.adapter, self.ds, self.batch = adapter, ds, batch
        self.x_train, self.y_train = ds.train_images[:n_train], ds.train_labels[:n_train]
        self.steps_per_epoch = n_train // batch  # the last partial batch is dropped, the same in every framework
        self.losses: list[float] = []
        self.step_ns: list[int] = []
        self.evals: list[dict[str, Any]] = []
        self.train_s = 0.0
        self.status: str = "ok"
        self.error: str | None = None
        self.step = 0
        self.pending: list[Any] = []
        self.digest = hashlib.sha256()

    def train_step(self, idx: np.ndarray) -> None:
        """One synchronised, timed training step on the images ``idx``; its loss is read later."""
        adapter = self.adapter
        adapter.synchronize()
        t0 = time.perf_counter_ns()
        result = adapter.train_step(adapter.prepare(self.x_train[idx], self.y_train[idx]))
        adapter.synchronize()
        dt = time.perf_counter_ns() - t0
        self.step_ns.append(dt)
        self.train_s += dt / 1e9
        self.pending.append(result)
        self.step += 1

    def flush(self) -> bool:
        """Read pending losses (after the timed steps); False when training diverged."""
        self.losses.extend(self.adapter.loss_value(r) for r in self.pending)
        self.pending.clear()
        bad = [i for i, v in enumerate(self.losses) if not np.isfinite(v)]
        if bad:
            self.status, self.error = "diverged", f"loss {self.losses[bad[0]]} at step {bad[0] + 1}"
            return False
        return True

    def record_eval(self) -> None:
        acc, loss = evaluate(self.adapter, self.ds.test_images, self.ds.test_labels)
        self.evals.append({"step": self.step, "epoch": self.step / self.steps_per_epoch, "test_acc": acc,
                           "test_loss": loss, "train_time_s": self.train_s})

    def epoch(self, seed: int, epoch: int, eval_every: int, max_steps: int) -> bool:
        """One epoch in the shared order (its digest recorded), evaluating every ``eval_every`` steps but
        the last (the epoch's own evaluation follows); False when training stops (diverged, or
        ``max_steps`` reached)."""
        order = epoch_order(seed, epoch, len(self.x_train))
        self.digest.update(order[: self.steps_per_epoch * self.batch].astype("<i8").tobytes())
        for b in range(self.steps_per_epoch):
            self.train_step(order[b * self.batch:(b + 1) * self.batch])
            if max_steps and self.step >= max_steps:
                break
            if eval_every and self.step % eval_every == 0 and b != self.steps_per_epoch - 1:
                if not self.flush():
                    break
                self.record_eval()
        return self.flush() and not (max_steps and self.step >= max_steps)

    def result(self) -> dict[str, Any]:
        return {"status_detail": self.status, "error": self.error, "losses": self.losses, "evals": self.evals,
                "step_ns": self.step_ns, "train_time_s": self.train_s, "steps_per_epoch": self.steps_per_epoch,
                "data_order_sha256": self.digest.hexdigest(), "versions": self.adapter.versions(),
                "describe": self.adapter.describe()}


def run(params: dict[str, Any], workdir: Path) -> dict[str, Any]:
    model = ModelConfig(**params["model"])
    adapter = contract.adapter_class(model.framework)(model)
    ds = data.locate_mnist(params["data_dir"], allow_download=False)
    training = Training(adapter, ds, int(params["train_size"]), int(params["batch_size"]))
    eval_every = int(params.get("eval_every") or 0)
    max_steps = int(params.get("max_steps") or 0)  # trajectory mode: a fixed number of steps, no evaluation
    for epoch in range(int(params["epochs"])):
        if not training.epoch(model.seed, epoch, eval_every, max_steps):
            break
        if not max_steps:
            training.record_eval()
    return training.result()
