import os
import pickle

import numpy as np
import pytest

from handpose.datasets.unpickle import safe_load, safe_loads
from handpose.errors import HandposeError


def test_plain_containers_and_arrays_round_trip(tmp_path):
    obj = {0: {"xyz": np.arange(6, dtype=np.float32).reshape(2, 3), "K": np.eye(3), "name": "a", "n": 3}}
    for protocol in (2, 4, 5):
        path = tmp_path / f"p{protocol}.pickle"
        path.write_bytes(pickle.dumps(obj, protocol=protocol))
        back = safe_load(path)
        assert np.array_equal(back[0]["xyz"], obj[0]["xyz"])
        assert back[0]["name"] == "a"


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned > /tmp/handpose_pwned",))


def test_code_is_refused_not_executed(tmp_path):
    marker = "/tmp/handpose_pwned"
    if os.path.exists(marker):
        os.remove(marker)
    data = pickle.dumps({"x": _Evil()})
    with pytest.raises(HandposeError, match=r"refusing to load (posix|os)\.system"):
        safe_loads(data, "evil.pickle")
    assert not os.path.exists(marker)


def test_truncated_pickle_is_one_clear_error():
    data = pickle.dumps({"a": np.zeros(10)})[:-7]
    with pytest.raises(HandposeError, match="corrupt"):
        safe_loads(data, "short.pickle")
