"""Dataset readers. Importing this package registers every reader it ships."""

from handpose.datasets.base import (
    DatasetReader,
    Sample,
    dataset_names,
    get_dataset_class,
    open_dataset,
    register_dataset,
)

__all__ = [
    "DatasetReader",
    "Sample",
    "dataset_names",
    "get_dataset_class",
    "open_dataset",
    "register_dataset",
]

# RGB readers register themselves on import.
from handpose.datasets import dexter, freihand, ganerated, rhd, stb, synthhands  # noqa: F401

# isort: split
# Depth readers register themselves on import.
from handpose.datasets import depthcache, hands2017, hands2019, ho3d, icvl, msra, nyu  # noqa: F401

# isort: split
# Synthetic hands: the handpose-synth folder reader.
from handpose.datasets import synthetic  # noqa: F401
