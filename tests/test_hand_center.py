"""detect_center finds the hand, not the forearm or sleeve, from the depth alone."""

from __future__ import annotations

import numpy as np
import pytest

from handpose.errors import HandposeError
from handpose.geometry import CAMERAS
from handpose.hand_center import arm_surface, detect_center, nearest_band_center
from handpose.synth.frame import render_frame

MIDDLE_MCP = 9


def _disc(depth: np.ndarray, u: float, v: float, radius: float, z: float) -> None:
    """A dome of ``radius`` px centred at ``(u, v)``, ``z`` mm at its top, bulging towards the camera."""
    vv, uu = np.mgrid[: depth.shape[0], : depth.shape[1]]
    r2 = ((uu - u) ** 2 + (vv - v) ** 2) / radius**2
    inside = r2 < 1
    depth[inside] = z + 30.0 * r2[inside]


@pytest.mark.parametrize("camera", ["nyu", "icvl"])
def test_mesh_frames_with_a_forearm_find_the_hand(camera: str) -> None:
    """Rendered right hands with forearm (and sleeve on about half): the old nearest-band centre lands
    on the arm (median ~145 mm off on these frames), the new one near the middle knuckle (~30 mm)."""
    found, band = [], []
    for index in range(16):
        image, labels = render_frame(3, index, "depth", camera, hands="right", hand_model="mesh")
        depth, cam = image.astype(np.float32), labels["camera"]
        label = labels["joints_xyz"][MIDDLE_MCP]
        found.append(np.linalg.norm(detect_center(depth, cam) - label))
        band.append(np.linalg.norm(nearest_band_center(depth, cam) - label))
    found, band = np.array(found), np.array(band)
    assert np.median(band) > 100.0  # the frames do put the arm in the way
    assert np.median(found) < 45.0
    assert np.count_nonzero(found < 70.0) >= 14
    assert found.mean() < band.mean() / 2


def test_the_hand_is_the_end_away_from_where_the_arm_leaves_the_image() -> None:
    cam = CAMERAS["msra"]
    depth = np.zeros((240, 320), np.float32)
    depth[110:130, 0:200] = 500.0  # the forearm, nearer than the hand, entering from the left border
    _disc(depth, 220.0, 120.0, 28.0, 520.0)  # the hand at its other end
    centre = cam.xyz_to_uvd(detect_center(depth, cam)[None])[0]
    assert abs(centre[0] - 220.0) < 15.0 and abs(centre[1] - 120.0) < 8.0
    old = cam.xyz_to_uvd(nearest_band_center(depth, cam)[None])[0]
    assert abs(old[0] - 220.0) > 60.0  # the band's centre of mass sits on the arm


def test_a_floating_arm_ends_in_the_thicker_hand() -> None:
    """No border or depth cut: the end whose surface leaves its plane (a dome) is the hand, the flat
    end of the forearm is not, even when the forearm is nearer to the camera."""
    cam = CAMERAS["msra"]
    depth = np.zeros((240, 320), np.float32)
    depth[112:128, 60:240] = np.linspace(480.0, 500.0, 180, dtype=np.float32)  # flat, nearest at the left
    _disc(depth, 250.0, 120.0, 30.0, 495.0)
    centre = cam.xyz_to_uvd(detect_center(depth, cam)[None])[0]
    assert abs(centre[0] - 250.0) < 20.0


def test_missing_depth_as_nan_is_ignored() -> None:
    cam = CAMERAS["msra"]
    depth = np.full((240, 320), np.nan, np.float32)
    depth[110:130, 0:200] = 500.0
    _disc(depth, 220.0, 120.0, 28.0, 520.0)
    zeros = np.nan_to_num(depth, nan=0.0)
    np.testing.assert_array_equal(detect_center(depth, cam), detect_center(zeros, cam))


def test_a_table_nearer_than_the_hand_is_skipped() -> None:
    cam = CAMERAS["msra"]
    rows = np.arange(240, dtype=np.float32)[:, None]
    depth = np.broadcast_to(900.0 - 2.0 * rows, (240, 320)).copy()  # a floor rising towards the camera
    depth[:, :] = np.where(rows > 150, depth, 0.0)
    _disc(depth, 160.0, 70.0, 25.0, 600.0)  # the hand, further than the floor's near edge (~420 mm)
    surface = arm_surface(depth, cam)
    assert surface is not None and np.all(np.abs(surface[0][:, 2] - 615.0) < 30.0)
    centre = cam.xyz_to_uvd(detect_center(depth, cam)[None])[0]
    assert abs(centre[0] - 160.0) < 6.0 and abs(centre[1] - 70.0) < 6.0


def test_a_flat_strip_across_the_image_is_not_an_arm() -> None:
    """A table seen at a grazing angle splits into strips of hand-and-arm area; one crosses the whole
    image, nearer than the hand, but is flat and leaves at both ends."""
    cam = CAMERAS["msra"]
    depth = np.zeros((240, 320), np.float32)
    depth[200:206] = 450.0
    _disc(depth, 160.0, 80.0, 25.0, 600.0)
    centre = cam.xyz_to_uvd(detect_center(depth, cam)[None])[0]
    assert abs(centre[0] - 160.0) < 6.0 and abs(centre[1] - 80.0) < 6.0


def test_without_a_hand_sized_surface_the_nearest_band_is_used() -> None:
    cam = CAMERAS["msra"]
    depth = np.full((240, 320), 800.0, np.float32)  # one wall, far larger than a hand and arm
    assert arm_surface(depth, cam) is None
    np.testing.assert_array_equal(detect_center(depth, cam), nearest_band_center(depth, cam))


def test_detection_is_deterministic_and_errors_are_one_line() -> None:
    image, labels = render_frame(3, 0, "depth", "nyu", hands="right")
    depth = image.astype(np.float32)
    np.testing.assert_array_equal(detect_center(depth, labels["camera"]), detect_center(depth, labels["camera"]))
    for bad in (np.zeros((10, 10), np.float32), np.full((10, 10), 5000.0, np.float32)):
        with pytest.raises(HandposeError, match=r"^no valid depth in \[10, 1500\] mm to find the hand in$"):
            detect_center(bad, CAMERAS["msra"])
