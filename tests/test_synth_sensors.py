"""Depth sensor models: per-camera presets and each effect on hand-made depth scenes."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from handpose.synth import sensors
from handpose.synth.frame import render_frame
from handpose.synth.render_depth import depth_image

FOCAL = 300.0
QUIET = {"sigma_base": 0.0, "sigma_quad": 0.0, "speckle": 0.0, "edge_drop": 0.0}


def _bar_scene(width_px: int, bar_z: float = 500.0, wall_z: float = 900.0) -> np.ndarray:
    """A 160x120 z-buffer: a wall with a vertical bar ``width_px`` pixels wide in front of it."""
    zbuf = np.full((120, 160), wall_z, dtype=np.float32)
    zbuf[20:100, 80 : 80 + width_px] = bar_z
    return zbuf


def test_each_camera_preset_has_its_sensor():
    assert sensors.sensor_for_camera("nyu").kind == sensors.STRUCTURED_LIGHT
    assert sensors.sensor_for_camera("icvl").kind == sensors.TIME_OF_FLIGHT
    assert sensors.sensor_for_camera("msra").kind == sensors.TIME_OF_FLIGHT
    assert sensors.sensor_for_camera("hands2017").kind == sensors.CODED_LIGHT
    assert sensors.sensor_for_camera("custom") is sensors.KINECT_V1
    rng = np.random.default_rng(0)
    drawn = [sensors.DS325.sample(rng) for _ in range(50)]
    assert len({d.sigma_base for d in drawn}) == 50 and all(0.5 <= d.sigma_base <= 1.5 for d in drawn)


def test_structured_light_shadow_lies_beside_nearer_surfaces_on_the_far_side_of_the_projector():
    sensor = replace(sensors.KINECT_V1, quant_quad=0.0, thin_px=0.0, **QUIET)
    zbuf = _bar_scene(20)
    expected = FOCAL * sensor.baseline_mm * (1 / 500.0 - 1 / 900.0)  # shadow width in pixels
    for side in (1.0, -1.0):
        depth = depth_image(zbuf, sensor, 0, FOCAL, side)
        row = depth[60]
        missing = np.flatnonzero(row == 0)
        assert len(missing) == pytest.approx(expected, abs=1.5)
        if side > 0:  # projector at +x: the shadow falls on the -x side of the bar
            assert missing.max() == 79
        else:
            assert missing.min() == 100
        assert np.all(depth[10] == 900)  # rows without the bar have no shadow
        assert np.all(row[80:100] == 500)


def test_structured_light_quantises_disparity_and_loses_thin_structures():
    sensor = replace(sensors.KINECT_V1, baseline_mm=0.0, **QUIET)
    depth = depth_image(_bar_scene(2), sensor, 0, FOCAL)
    assert np.all(depth[20:100, 80:82] == 0)  # a 2-pixel bar vanishes
    depth = depth_image(_bar_scene(8), sensor, 0, FOCAL)
    assert np.all(depth[20:100, 80:88] > 0)
    # Depths on a slanted plane take only the quantised values (step ~2.87e-6 z^2: 2.3 mm at 900 mm).
    ramp = np.tile(np.linspace(850.0, 950.0, 160, dtype=np.float32), (120, 1))
    values = np.unique(depth_image(ramp, sensor, 0, FOCAL))
    assert 30 < len(values) < 60
    assert np.all(np.diff(values) >= 2)


def test_time_of_flight_flying_pixels_multipath_and_range():
    sensor = replace(sensors.DS325, flying=1.0, multipath_mm=0.0, grazing_drop=0.0, **QUIET)
    depth = depth_image(_bar_scene(20), sensor, 3, FOCAL).astype(float)
    edges = depth[30:90, [79, 80, 99, 100]]
    assert np.all((edges >= 500) & (edges <= 900))  # mixed between the bar and the wall
    assert np.mean((edges > 505) & (edges < 895)) > 0.9
    assert np.all(depth[30:90, 85:95] == 500) and np.all(depth[30:90, 10:70] == 900)
    # Multipath: a surface just behind a nearer one reads farther.
    sensor = replace(sensors.DS325, flying=0.0, multipath_mm=10.0, grazing_drop=0.0, **QUIET)
    depth = depth_image(_bar_scene(20, 500.0, 540.0), sensor, 3, FOCAL).astype(float)
    assert np.all(depth[30:90, 76:79] > 540.0) and np.all(depth[30:90, 10:60] == 540.0)
    # Out of the working range (150-1000 mm) reads as missing: zeros, not NaN.
    depth = depth_image(_bar_scene(20, 120.0, 1200.0), sensor, 3, FOCAL)
    assert depth.dtype == np.uint16 and np.all(depth == 0)


@pytest.mark.parametrize("camera", ["nyu", "icvl", "hands2017"])
def test_rendered_frames_use_the_cameras_sensor(camera):
    noisy, _ = render_frame(4, 2, "depth", camera, background="cluttered")
    exact, _ = render_frame(4, 2, "depth", camera, background="cluttered", noise=False)
    assert noisy.dtype == np.uint16 and noisy.shape == exact.shape
    sensor = sensors.sensor_for_camera(camera)
    in_range = (exact >= sensor.near_mm) & (exact <= sensor.far_mm)
    assert np.mean(noisy[in_range] != exact[in_range]) > 0.3
    # Missing readings inside the working range: a few percent (edges, shadows, speckle), never most.
    assert 0.0005 < np.mean(noisy[in_range] == 0) < 0.3
    assert np.all(noisy[(exact > sensor.far_mm + 30) | ((exact > 0) & (exact < sensor.near_mm - 30))] == 0)
