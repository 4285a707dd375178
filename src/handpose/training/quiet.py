"""Keep library chatter out of a normal training run: handpose prints its own one-line stages.

Lightning announces its setup (accelerator, precision, TPU cores, a cloud-logging tip, validation
limits), and libraries warn about things a handpose run does on purpose (short epochs under the
logging interval, a resumed run's folders already holding files, a torch deprecation inside Lightning
itself). None of these tells the user anything to act on; a warning not listed here still shows.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

# Lightning's own loggers: their INFO lines are setup announcements.
LIGHTNING_LOGGERS = ("lightning.pytorch", "lightning.fabric", "pytorch_lightning", "lightning_fabric")
# Warnings about what a handpose run does deliberately (matched at the start of the message).
EXPECTED_WARNINGS = (
    r"`isinstance\(treespec, LeafSpec\)` is deprecated",
    r"The number of training batches \(\d+\) is smaller than the logging interval",
    r"Experiment logs directory .* exists and is not empty",
    r"Checkpoint directory .* exists and is not empty",
    r"The '(train|val)_dataloader' does not have many workers",
)


@contextmanager
def quiet_libraries() -> Iterator[None]:
    """Lightning's setup announcements and the expected warnings are dropped inside the block."""
    saved = {}
    for name in LIGHTNING_LOGGERS:
        logger = logging.getLogger(name)
        saved[name] = logger.level
        logger.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            for pattern in EXPECTED_WARNINGS:
                warnings.filterwarnings("ignore", message=pattern)
            yield
    finally:
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)
