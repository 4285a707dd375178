"""RGB crops for the models: hand box, mirroring, augmentation, crop intrinsics and 2.5D targets.

:class:`RGBCropTransform` turns one :class:`~handpose.datasets.base.Sample` into the per-sample arrays
of :class:`handpose.batch.RGBBatch` (no batch dimension). It follows the Learnable Joint Groups RHD
loader (``datasets/RHD.py``, Li et al. AAAI'21):

1. Joints are re-ordered into ``target_skeleton`` (``canonical21`` by default) through the skeleton
   registry; joints the dataset lacks are NaN and not visible.
2. Left hands are mirrored to right (``mirror_left``): the image is flipped left-right and the camera
   x axis negated (``x -> -x``, ``cx -> W - 1 - cx``), so projections stay exact. Mirroring is a
   reflection: distances, hence every metric, are unchanged; outputs are in the mirrored frame.
3. Box: the bounding box of the visible keypoints' pixels (or the hand mask's box, ``crop_from``),
   centred on its midpoint, side ``margin * clip(max(w, h), min_box, max_box)`` (1.2 and [30, 500] px
   in the reference).
4. Augmentation (``augment=True``, the reference's training settings): in-plane rotation
   U[-180, 180] degrees about the box's centre, the box then taken around the *rotated* keypoints (as
   the reference does, so the hand stays inside); box side x U[1, 1.2]; box centre + N(0, 1) px + an
   integer shift in [-20, 20) px; the side clamped to [``min_box``, ``max_crop_fraction`` x the
   image's longer side] (280 px on RHD's 320 px frames, as in the reference); hue shifted by
   U[-0.1, 0.1] of the colour circle.
5. Warp: one affine map image -> crop (``cv2.warpAffine``, bilinear, black outside the image). The
   box spans the crop exactly: its left edge is crop ``u = -1`` and its right edge ``u = +1`` (crop
   pixel ``i`` centred at ``(i + 0.5) * 2 / S - 1``, as in :mod:`handpose.codecs.heatmap`).
6. Crop intrinsics ``K_crop``: the camera's focal lengths scaled by ``S / side``, its principal point
   mapped by the same warp as the pixels. With rotation the 3D joints are re-derived, as in the
   reference, from their rotated crop pixels and their own depth through ``K_crop``
   (``x = z (u - cx) / fx``); because the principal point moves with the warp, this is exactly a
   roll of the camera about its optical axis when ``fx == fy`` (depths and distances unchanged; off
   by the ratio ``fy / fx`` otherwise). Image, ``joints_crop``, ``joints_xyz`` and ``K_crop`` then
   agree exactly. Without rotation ``joints_xyz`` are the input joints.
7. Targets (:func:`handpose.codecs.uvz.encode_targets`): ``joints_crop`` = (u, v in [-1, 1], (z - z_root) / scale) with
   root = middle MCP and scale = middle MCP-PIP; ``joints_rel`` = (xyz - root) / scale; ``joints`` is
   whichever of the two ``output_space`` names. Image: float32 RGB, ImageNet mean/std, ``(3, S, S)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, Literal

import cv2
import numpy as np

from handpose import contract as contract_defaults
from handpose import skeleton as skeletons
from handpose.codecs import uvz as uvz_codec
from handpose.datasets.base import Sample
from handpose.errors import HandposeError
from handpose.geometry import Camera, uvd_to_xyz, xyz_to_uvd

# The pixel normalisation comes from the preprocessing contract; these are its defaults.
IMAGENET_MEAN = np.asarray(contract_defaults.IMAGENET_MEAN, dtype=np.float32)
IMAGENET_STD = np.asarray(contract_defaults.IMAGENET_STD, dtype=np.float32)

CropFrom = Literal["keypoints", "mask"]


def normalisation_luts(
    mean: Sequence[float] = contract_defaults.IMAGENET_MEAN,
    std: Sequence[float] = contract_defaults.IMAGENET_STD,
    scale: float = 1 / 255,
) -> tuple[np.ndarray, ...]:
    """uint8 value -> ``(value * scale - mean) / std`` per channel: a table lookup instead of float arithmetic per pixel."""
    values = np.arange(256, dtype=np.float64) * scale
    return tuple(
        np.ascontiguousarray(((values - m) / sd).reshape(256, 1).astype(np.float32)) for m, sd in zip(mean, std)
    )


_NORMALISE_LUTS = normalisation_luts()


def normalise_image(crop: np.ndarray, luts: tuple[np.ndarray, ...] = _NORMALISE_LUTS) -> np.ndarray:
    """``(S, S, 3)`` uint8 RGB -> ``(3, S, S)`` float32 through :func:`normalisation_luts` (default: ImageNet)."""
    out = np.empty((3, *crop.shape[:2]), dtype=np.float32)
    for c, plane in enumerate(cv2.split(crop)):
        out[c] = cv2.LUT(plane, luts[c])
    return out


def mirror_camera(camera: Camera, width: int) -> Camera:
    """The camera seeing the left-right flipped image of ``width`` pixels (its x axis negated)."""
    return replace(camera, cx=width - 1 - camera.cx)


def mirror_xyz(xyz: np.ndarray) -> np.ndarray:
    """Joints reflected through the camera's y-z plane (``x -> -x``)."""
    out = np.array(xyz, dtype=np.float64, copy=True)
    out[..., 0] = -out[..., 0]
    return out


def mirror_sample(sample: Sample) -> Sample:
    """The same frame flipped left-right: image, mask, camera and joints; a left hand becomes a right hand.

    Mirroring twice gives back the original sample exactly.
    """
    width = sample.image.shape[1]
    camera = mirror_camera(sample.camera, width)
    xyz = mirror_xyz(sample.joints_xyz)
    uvd = np.array(sample.joints_uvd, dtype=np.float64, copy=True)
    uvd[..., 0] = width - 1 - uvd[..., 0]
    extras = dict(sample.extras)
    if isinstance(extras.get("mask"), np.ndarray):
        extras["mask"] = extras["mask"][:, ::-1].copy()
    flipped = {"left": "right", "right": "left"}.get(sample.handedness or "", sample.handedness)
    return replace(
        sample,
        image=sample.image[:, ::-1].copy(),
        joints_xyz=xyz,
        joints_uvd=uvd,
        camera=camera,
        center_xyz=None if sample.center_xyz is None else mirror_xyz(sample.center_xyz),
        handedness=flipped,
        extras=extras,
    )


def shift_hue(image: np.ndarray, fraction: float) -> np.ndarray:
    """Rotate the hue of a uint8 RGB image by ``fraction`` of the colour circle."""
    if fraction == 0:
        return image
    hsv = cv2.cvtColor(image, cv2.COLOR_RGB2HSV)  # OpenCV uint8 hue runs over [0, 180)
    h = hsv[..., 0].astype(np.int16) + round(fraction * 180)
    hsv[..., 0] = np.mod(h, 180).astype(np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)


def crop_intrinsics(camera: Camera, m: np.ndarray, s: float) -> np.ndarray:
    """``K_crop`` of a crop made by the pixel map ``m`` at scale ``s``: focal lengths scaled, and the
    principal point where the map takes the camera's own (a rotated crop is the camera rolled about
    its optical axis)."""
    principal = m[:2, :2] @ np.array([camera.cx, camera.cy]) + m[:2, 2]
    return np.array([[s * camera.fx, 0.0, principal[0]], [0.0, s * camera.fy, principal[1]], [0.0, 0.0, 1.0]])


class RGBCropTransform:
    """Sample -> one row of an :class:`~handpose.batch.RGBBatch` (see the module docstring).

    Args:
        out_size: Crop side ``S`` (256 for Learnable Groups, 128 for ResUnet).
        target_skeleton: Joint order of the outputs; ``None`` keeps the sample's own order.
        augment: Apply the training augmentation (needs an ``rng``).
        mirror_left: Flip left hands to right hands.
        margin: Box side over the keypoints' extent.
        min_box: Lower clamp of the box side before the margin, pixels.
        max_box: Upper clamp of the box side before the margin, pixels.
        max_crop_fraction: Upper clamp of the augmented box side, as a fraction of the longer image side.
        scale_range: Box side factor range under augmentation.
        rotation_deg: Rotation range (+-) under augmentation.
        shift_px: Integer box-centre shift range [-shift_px, shift_px) under augmentation.
        center_sigma_px: Gaussian box-centre noise under augmentation.
        hue: Hue shift range (+-, fraction of the colour circle) under augmentation.
        crop_from: ``"keypoints"`` (visible ones; the mask box if none) or ``"mask"`` (the hand mask's
            box where the sample has ``extras["mask"]``, else keypoints).
        output_space: What ``"joints"`` holds: ``"uvz"`` or ``"rel"``.
        mean: Per-channel mean of the pixel normalisation (the contract's).
        std: Per-channel standard deviation of the pixel normalisation.
        scale: Factor from uint8 pixel values to the units of ``mean`` and ``std``.
    """

    def __init__(
        self,
        out_size: int = 256,
        target_skeleton: str | None = "canonical21",
        augment: bool = False,
        mirror_left: bool = True,
        margin: float = 1.2,
        min_box: float = 30.0,
        max_box: float = 500.0,
        max_crop_fraction: float = 0.875,
        scale_range: tuple[float, float] = (1.0, 1.2),
        rotation_deg: float = 180.0,
        shift_px: int = 20,
        center_sigma_px: float = 1.0,
        hue: float = 0.1,
        crop_from: CropFrom = "keypoints",
        output_space: str = "uvz",
        mean: Sequence[float] = contract_defaults.IMAGENET_MEAN,
        std: Sequence[float] = contract_defaults.IMAGENET_STD,
        scale: float = 1 / 255,
    ) -> None:
        if int(out_size) < 8:
            raise HandposeError(f"crop size must be at least 8 pixels, got {out_size}")
        if output_space not in ("uvz", "rel"):
            raise HandposeError(f"output_space must be 'uvz' or 'rel', got {output_space!r}")
        if crop_from not in ("keypoints", "mask"):
            raise HandposeError(f"crop_from must be 'keypoints' or 'mask', got {crop_from!r}")
        if target_skeleton is not None:
            skeletons.get(target_skeleton)
        self.out_size = int(out_size)
        self.target_skeleton = target_skeleton
        self.augment = augment
        self.mirror_left = mirror_left
        self.margin = float(margin)
        self.min_box, self.max_box = float(min_box), float(max_box)
        self.max_crop_fraction = float(max_crop_fraction)
        self.scale_range = scale_range
        self.rotation_deg = float(rotation_deg)
        self.shift_px = int(shift_px)
        self.center_sigma_px = float(center_sigma_px)
        self.hue = float(hue)
        self.crop_from = crop_from
        self.output_space = output_space
        self.normalisation_luts = normalisation_luts(mean, std, scale)

    # -- geometry -----------------------------------------------------------------------------------
    def _joints_in_target(self, sample: Sample) -> tuple[np.ndarray, np.ndarray, str]:
        name = self.target_skeleton or sample.skeleton
        xyz = np.asarray(sample.joints_xyz, dtype=np.float64)
        vis = np.asarray(sample.visibility, dtype=bool)
        if xyz.ndim != 2 or xyz.shape[1] != 3 or vis.shape != (xyz.shape[0],):
            raise HandposeError(
                f"{sample.frame_id}: joints must be (J, 3) with (J,) visibility, got {xyz.shape} and {vis.shape}"
            )
        if name != sample.skeleton:
            src = skeletons.get(sample.skeleton)
            xyz = src.convert(xyz, name)
            vis = src.convert(vis[:, None].astype(np.float64), name, fill=0.0)[:, 0] > 0.5
        vis = vis & np.isfinite(xyz).all(-1) & (xyz[:, 2] > 0)
        return xyz, vis, name

    def box_points(self, uv: np.ndarray, visible: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
        """Pixels whose bounding box is the hand: the visible keypoints, or the mask box's corners."""
        mask_pts = None
        if mask is not None and mask.any():
            rows, cols = np.nonzero(mask)
            u0, u1, v0, v1 = cols.min(), cols.max(), rows.min(), rows.max()
            mask_pts = np.array([[u0, v0], [u1, v0], [u0, v1], [u1, v1]], dtype=np.float64)
        if self.crop_from == "mask" and mask_pts is not None:
            return mask_pts
        if visible.any():
            return uv[visible]
        if mask_pts is not None:
            return mask_pts
        raise HandposeError("no visible keypoint and no hand mask: cannot place the crop")

    def box_of(self, points: np.ndarray) -> tuple[np.ndarray, float]:
        """Centre and side (margin included) of the square box around ``points``."""
        lo, hi = points.min(axis=0), points.max(axis=0)
        extent = float(np.max(hi - lo))
        return (lo + hi) / 2.0, self.margin * float(np.clip(extent, self.min_box, self.max_box))

    def hand_box(self, uv: np.ndarray, visible: np.ndarray, mask: np.ndarray | None) -> tuple[np.ndarray, float]:
        """Box centre (pixels) and side (pixels, margin included) without augmentation."""
        return self.box_of(self.box_points(uv, visible, mask))

    # -- main entry ---------------------------------------------------------------------------------
    def __call__(self, sample: Sample, rng: np.random.Generator | None = None) -> dict[str, np.ndarray]:
        image = sample.image
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise HandposeError(f"{sample.frame_id}: expected an (H, W, 3) uint8 RGB image, got {image.shape}")
        if self.augment and rng is None:
            raise HandposeError("augmentation needs a random generator (rng)")
        h, w = image.shape[:2]
        xyz, visible, skel_name = self._joints_in_target(sample)
        camera = sample.camera
        mask = sample.extras.get("mask") if isinstance(sample.extras.get("mask"), np.ndarray) else None
        flip = self.mirror_left and sample.handedness == "left"
        if flip:
            camera = mirror_camera(camera, w)
            xyz = mirror_xyz(xyz)
            if mask is not None:
                mask = mask[:, ::-1]
        with np.errstate(invalid="ignore", divide="ignore"):
            uvd = xyz_to_uvd(xyz, camera)
        visible = visible & np.isfinite(uvd).all(-1)
        points = self.box_points(uvd[:, :2], visible, mask)
        pivot = (points.min(axis=0) + points.max(axis=0)) / 2.0
        angle = 0.0
        if self.augment:
            assert rng is not None
            angle = float(rng.uniform(-self.rotation_deg, self.rotation_deg))
        a = np.deg2rad(angle)
        rot = np.array([[np.cos(a), np.sin(a)], [-np.sin(a), np.cos(a)]])  # screen counter-clockwise, y down
        # As in the reference, the box is taken around the keypoints after the rotation.
        center, side = self.box_of((points - pivot) @ rot.T + pivot)
        if self.augment:
            assert rng is not None
            side *= rng.uniform(*self.scale_range)
            center = center + rng.normal(0.0, self.center_sigma_px, 2)
            if self.shift_px > 0:
                center = center + rng.integers(-self.shift_px, self.shift_px, 2)
            side = float(np.clip(side, self.min_box, self.max_crop_fraction * max(h, w)))

        # Image pixels -> crop pixels: rotate about the pivot, then scale the box onto the crop.
        s = self.out_size / side
        half = self.out_size / 2.0 - 0.5
        m = np.eye(3)
        m[:2, :2] = s * rot
        m[:2, 2] = half + s * (pivot - rot @ pivot - center)
        crop = self._warp(image, m, flip)
        if self.augment and self.hue > 0:
            assert rng is not None
            crop = shift_hue(crop, float(rng.uniform(-self.hue, self.hue)))

        k_crop = crop_intrinsics(camera, m, s)
        crop_camera = Camera.from_K(k_crop, self.out_size, self.out_size)
        if angle != 0.0:
            # Joints follow the image: their rotated crop pixels back-projected at their own depth
            # (the reference's re-derivation; exactly a roll about the optical axis when fx == fy).
            uv_crop = uvd[:, :2] @ m[:2, :2].T + m[:2, 2]
            xyz = uvd_to_xyz(np.concatenate([uv_crop, uvd[:, 2:3]], axis=1), crop_camera)

        return self._targets(crop, xyz, visible, k_crop, skel_name)

    def _warp(self, image: np.ndarray, m: np.ndarray, flip: bool) -> np.ndarray:
        """The crop through the 3x3 pixel map ``m`` (of the flipped image when ``flip``)."""
        w = image.shape[1]
        # The flip is folded into the warp, so the full image is never copied.
        warp = m @ np.array([[-1.0, 0.0, w - 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]) if flip else m
        return cv2.warpAffine(
            image,
            warp[:2],
            (self.out_size, self.out_size),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=(0, 0, 0),
        )

    def crop_box(
        self, image: np.ndarray, camera: Camera, center: np.ndarray, side: float, left: bool = False
    ) -> dict[str, np.ndarray]:
        """The model's input for a given hand box, without labels (prediction on unlabelled photos).

        Args:
            image: ``(H, W, 3)`` uint8.
            camera: Intrinsics of ``image``.
            center: Box centre in ``image``'s pixels.
            side: Box side, pixels (taken as it is: no margin is added).
            left: A left hand: mirrored into a right one first, as in training.

        Returns:
            ``image`` (the normalised crop) and ``K_crop``; for a left hand ``K_crop`` belongs to the
            mirrored image (un-mirror predicted joints with :func:`mirror_xyz`).
        """
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise HandposeError(f"expected an (H, W, 3) uint8 RGB image, got {image.shape} {image.dtype}")
        if not side > 0:
            raise HandposeError(f"the hand box needs a positive side, got {side}")
        w = image.shape[1]
        center = np.array(center, dtype=np.float64)
        if left:
            camera = mirror_camera(camera, w)
            center[0] = w - 1.0 - center[0]
        s = self.out_size / float(side)
        m = np.eye(3)
        m[:2, :2] *= s
        m[:2, 2] = self.out_size / 2.0 - 0.5 - s * center
        crop = self._warp(image, m, left)
        k_crop = crop_intrinsics(camera, m, s)
        return {
            "image": normalise_image(crop, self.normalisation_luts).astype(np.float32),
            "K_crop": k_crop.astype(np.float32),
        }

    def _targets(
        self, crop: np.ndarray, xyz: np.ndarray, visible: np.ndarray, k_crop: np.ndarray, skel_name: str
    ) -> dict[str, np.ndarray]:
        out = {
            "image": normalise_image(crop, self.normalisation_luts),
            **uvz_codec.encode_targets(xyz, k_crop, self.out_size, skel_name, self.output_space),
            "visible": visible.copy(),
            "K_crop": k_crop,
            "joints_xyz": xyz,
        }
        return {k: (v.astype(np.float32, copy=False) if v.dtype.kind == "f" else v) for k, v in out.items()}


def collate(rows: list[Mapping[str, Any]]) -> dict[str, np.ndarray]:
    """Stack per-sample dicts along a new leading batch dimension."""
    if not rows:
        raise HandposeError("cannot collate an empty list of samples")
    return {k: np.stack([np.asarray(r[k]) for r in rows]) for k in rows[0]}
