"""The batches a timing task steps through: a few consecutive batches of the configured data, read on
the host, which every timing task (measure, the LRN pair, lockstep, profile, calibrate) stages on the
device before its timed steps, so every task times the same inputs the same way."""

from __future__ import annotations

import numpy as np

from bench.core import data
from bench.core.config import RunConfig

STAGED_BATCHES = 4  # distinct batches cycled through, all on the device before timing


def host_batches(cfg: RunConfig, n: int = STAGED_BATCHES) -> tuple[list[tuple[np.ndarray, np.ndarray]], str]:
    """``n`` consecutive batches of the configured data (wrapping around a small dataset), and where the
    data came from."""
    model = cfg.model.model_spec
    if cfg.data == "synthetic" or model.data is None:  # a model without a dataset here: synthetic, of its shape
        ds = data.synthetic(n_train=n * cfg.batch_size, n_test=1, seed=cfg.model.seed,
                            image_shape=model.input_shape, classes=model.num_classes)
    else:
        ds = data.load(cfg.data, cfg.data_dir, seed=cfg.model.seed, allow_download=False)
    total = len(ds.train_images)
    out = []
    for i in range(n):
        idx = (np.arange(cfg.batch_size) + i * cfg.batch_size) % total
        out.append((ds.train_images[idx], ds.train_labels[idx]))
    return out, ds.source
