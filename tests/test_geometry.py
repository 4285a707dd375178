import numpy as np
import pytest

from handpose.errors import HandposeError
from handpose.geometry import (
    CAMERAS,
    CubeCrop,
    get_camera,
    procrustes_align,
    uvd_to_xyz,
    xyz_to_uvd,
)


def test_uvd_xyz_by_hand():
    cam = CAMERAS["icvl_eval"]
    xyz = uvd_to_xyz(np.array([200.0, 100.0, 400.0]), cam)
    assert xyz == pytest.approx([(200 - 160) * 400 / 240.99, (100 - 120) * 400 / 240.96, 400.0])
    assert xyz_to_uvd(xyz, cam) == pytest.approx([200.0, 100.0, 400.0])


def test_nyu_eval_camera_is_y_up_twin():
    a = CAMERAS["nyu_eval"]
    b = a.y_down()
    uvd = np.array([[300.0, 200.0, 700.0], [350.0, 260.0, 720.0]])
    xa, xb = uvd_to_xyz(uvd, a), uvd_to_xyz(uvd, b)
    assert np.allclose(xa[:, 1], -xb[:, 1])
    assert np.linalg.norm(xa[0] - xa[1]) == pytest.approx(np.linalg.norm(xb[0] - xb[1]))


def test_custom_camera_parsing():
    cam = get_camera("500,500,320,240")
    assert (cam.fx, cam.cy) == (500.0, 240.0)
    with pytest.raises(HandposeError, match="unknown camera"):
        get_camera("kinect9")


@pytest.mark.parametrize("rotation", [0.0, 37.0, -150.0])
def test_cube_crop_matrix_centres_scales_and_turns(rotation):
    cam = CAMERAS["nyu"]
    center = np.array([-20.0, 35.0, 650.0])
    crop = CubeCrop.around(center, 250.0, cam, out_size=96, rotation_deg=rotation)
    m = crop.matrix
    # The cube centre lands in the middle of the crop.
    assert m[:2, :2] @ crop.center_uvd[:2] + m[:2, 2] == pytest.approx([48.0, 48.0])
    # A pixel step becomes `scale` crop pixels, turned counter-clockwise on screen (y down).
    step = m[:2, :2] @ np.array([1.0, 0.0])
    a = np.deg2rad(rotation)
    assert step == pytest.approx(crop.scale * np.array([np.cos(a), -np.sin(a)]))


def test_cube_crop_scale_by_hand():
    cam = CAMERAS["msra"]
    crop = CubeCrop.around([0.0, 0.0, 500.0], 200.0, cam, out_size=100)
    # The cube's 200 mm at 500 mm spans 2 * 100 * 241.42 / 500 pixels.
    assert crop.scale == pytest.approx(100 / (2 * 100 * 241.42 / 500))


def test_procrustes_recovers_similarity(rng):
    gt = rng.normal(size=(5, 21, 3)) * 50
    angle = 0.7
    r = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]])
    pred = 1.7 * gt @ r.T + np.array([10.0, -5.0, 300.0])
    assert np.abs(procrustes_align(pred, gt) - gt).max() < 1e-8


def test_procrustes_reflection_flag(rng):
    gt = rng.normal(size=(21, 3))
    mirrored = gt * np.array([-1.0, 1.0, 1.0])
    with_reflection = procrustes_align(mirrored, gt, allow_reflection=True)
    without = procrustes_align(mirrored, gt)
    assert np.abs(with_reflection - gt).max() < 1e-8
    assert np.abs(without - gt).max() > 1e-3
