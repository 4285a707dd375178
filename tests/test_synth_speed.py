"""Smoke-size speed rows of the synthetic engine (the real numbers: benchmarks/bench_synth.py).

The targets are per core: depth 320x240 >= 500 frames/s, 640x480 >= 300, RGB 256x256 >= 150. A shared
test machine cannot hold them exactly, so these rows only catch order-of-magnitude regressions (a
kernel recompiled per call, a loop that lost its vectorisation): CPU-time rates must reach a fifth of
the target.
"""

from __future__ import annotations

import time

import pytest

from handpose.geometry import get_camera
from handpose.synth.frame import DEFAULT_RGB_CAMERA, render_frame

ROWS = {
    "depth 320x240": ("depth", "icvl", 500.0),
    "depth 640x480": ("depth", "nyu", 300.0),
    "rgb 256x256": ("rgb", None, 150.0),
}


@pytest.mark.parametrize("row", list(ROWS))
def test_speed_row_smoke(row):
    modality, camera_name, target = ROWS[row]
    camera = DEFAULT_RGB_CAMERA if camera_name is None else get_camera(camera_name)
    render_frame(0, 0, modality, camera)  # kernels compiled or loaded from the cache
    frames = 30
    start = time.process_time()
    for i in range(frames):
        render_frame(1, i, modality, camera)
    rate = frames / (time.process_time() - start)
    assert rate > target / 5, f"{row}: {rate:.0f} frames/s per CPU second"
