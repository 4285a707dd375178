import numpy as np
import pytest

from handpose.errors import HandposeError
from handpose.geometry import (
    CAMERAS,
    CubeCrop,
    denormalize_root_scale,
    get_camera,
    normalize_root_scale,
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
def test_cube_crop_round_trips(rng, rotation):
    cam = CAMERAS["nyu"]
    center = np.array([-20.0, 35.0, 650.0])
    crop = CubeCrop.around(center, 250.0, cam, out_size=96, rotation_deg=rotation)
    xyz = center + rng.uniform(-120, 120, size=(14, 3))
    norm = crop.normalize_xyz(xyz)
    assert np.abs(crop.denormalize_xyz(norm) - xyz).max() < 1e-9
    uvd = xyz_to_uvd(xyz, cam)
    c = crop.uvd_to_crop(uvd)
    assert np.abs(crop.crop_to_uvd(c) - uvd).max() < 1e-9
    # The cube centre lands in the middle of the crop.
    assert crop.image_to_crop(crop.center_uvd) == pytest.approx([48.0, 48.0, 650.0])


def test_cube_crop_scale_by_hand():
    cam = CAMERAS["msra"]
    crop = CubeCrop.around([0.0, 0.0, 500.0], 200.0, cam, out_size=100)
    # The cube's 200 mm at 500 mm spans 2 * 100 * 241.42 / 500 pixels.
    assert crop.scale == pytest.approx(100 / (2 * 100 * 241.42 / 500))
    depth = np.array([[0.0, 399.0, 500.0, 599.0, 601.0]])
    assert crop.normalize_depth(depth)[0].tolist() == pytest.approx([1.0, 1.0, 0.0, 0.99, 1.0])


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


def test_root_scale_normalisation_round_trip(rng):
    joints = rng.normal(size=(3, 21, 3)) * 40 + np.array([0, 0, 500.0])
    norm, root, scale = normalize_root_scale(joints, root=9, bone=(9, 10))
    assert np.allclose(np.linalg.norm(norm[:, 9] - norm[:, 10], axis=-1), 1.0)
    assert np.abs(denormalize_root_scale(norm, root, scale) - joints).max() < 1e-9
