"""Drawing random numbers without touching the caller's random streams."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


@contextmanager
def cpu_random(seed: int | None = None) -> Iterator[None]:
    """Draw from the CPU generator inside a fork; optionally seeded.

    On leaving, the CPU generator is as it was, so a helper that builds a
    module (whose initial parameters are random) leaves the caller's stream
    alone. Unlike ``torch.manual_seed``, the seed reaches the CPU generator
    only: the GPUs' generators are neither reseeded nor advanced.
    """
    with torch.random.fork_rng(devices=[]):
        if seed is not None:
            torch.default_generator.manual_seed(seed)
        yield
