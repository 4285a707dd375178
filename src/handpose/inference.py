"""Run a trained model on new images: :class:`Estimator`.

An estimator loads a model package (``handpose export``) or a training checkpoint
(:mod:`handpose.loading`), and preprocesses every input with the transform its preprocessing contract
describes, the one training used, so nothing but the model file (and the camera intrinsics of the
input) is needed. Outputs go back to camera space through :func:`handpose.codecs.decode_batch`.

Example:
    >>> from handpose import Estimator
    >>> est = Estimator.load("runs/demo/package")
    >>> pred = est.predict(depth_mm, camera="nyu")       # hand centre found in the depth
    >>> pred.xyz.shape, pred.uvd.shape                    # (J, 3) camera mm, (J, 3) pixels + mm
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from handpose.contract import Contract
from handpose.errors import HandposeError
from handpose.geometry import Camera, get_camera, xyz_to_uvd
from handpose.loading import RUNTIMES, RuntimeFailureError, open_model, output_names, run_outputs
from handpose.prediction import Prediction

__all__ = ["RUNTIMES", "Estimator", "Prediction"]


class Estimator:
    """A loaded model and its preprocessing contract.

    Args:
        network: The model (eval mode); ``None`` when running through ONNX Runtime only.
        contract: The preprocessing contract.
        info: Metadata (metrics, training data, source file).
        device: ``"cpu"`` or ``"cuda"``.
        onnx_session: An ONNX Runtime session to run instead of PyTorch.
        bf16: Run ``network`` under bfloat16 autocast.

    Attributes:
        runtime: The runtime it runs in (one of :data:`RUNTIMES`).
        runtime_choice: How ``runtime="auto"`` chose it (a :class:`handpose.runtime_choice.RuntimeChoice`),
            else ``None``.
    """

    def __init__(
        self,
        network: nn.Module | None,
        contract: Contract,
        info: dict[str, Any] | None = None,
        device: str = "cpu",
        onnx_session: Any | None = None,
        bf16: bool = False,
    ) -> None:
        self.network = network
        self.contract = contract
        self.info = info or {}
        self.device = torch.device(device)
        self.onnx_session = onnx_session
        self.bf16 = bf16
        self.runtime = "torch-bf16" if bf16 else "torch"
        self.runtime_choice: Any | None = None
        self.scale_override_mm: float | None = None
        self._transforms: dict[str, Any] = {}

    @classmethod
    def load(cls, path: str | Path, device: str = "cpu", runtime: str = "torch", batch_size: int = 16) -> Estimator:
        """Load a package or checkpoint with :func:`handpose.loading.open_model` (same arguments and errors).

        ``runtime="auto"`` takes the fastest runtime of this machine that predicts what PyTorch fp32
        does, at ``batch_size`` inputs per forward pass (:func:`handpose.runtime_choice.open_auto`).
        """
        if runtime == "auto":
            from handpose.runtime_choice import open_auto

            loaded = open_auto(path, device, batch_size)
        else:
            loaded = open_model(path, device, runtime)
        est = cls(
            loaded.network,
            loaded.contract,
            loaded.info,
            device,
            onnx_session=loaded.session,
            bf16=loaded.runtime == "torch-bf16",
        )
        est.runtime = loaded.runtime
        est.runtime_choice = loaded.choice
        return est

    # -- properties ----------------------------------------------------------------------------
    @property
    def modality(self) -> str:
        return self.contract.modality

    @property
    def skeleton(self) -> str:
        return self.contract.skeleton

    @property
    def joint_names(self) -> list[str]:
        from handpose import skeleton as skeletons

        return list(self.contract.joint_names or skeletons.get(self.skeleton).joint_names)

    @property
    def input_size(self) -> int:
        return self.contract.input_size

    # -- running -------------------------------------------------------------------------------
    def forward(self, images: np.ndarray | torch.Tensor) -> np.ndarray:
        """Network outputs ``(B, J, 3)`` in the model's output space for preprocessed crops ``(B, C, S, S)``."""
        return self.forward_outputs(images, ("joints",))["joints"]

    def forward_outputs(self, images: np.ndarray | torch.Tensor, names: Sequence[str]) -> dict[str, np.ndarray]:
        """The network outputs ``names`` (float64 numpy) for preprocessed crops ``(B, C, S, S)``.

        Raises:
            HandposeError: The network (or its ONNX graph) has no output of one of the names.
        """
        try:
            return run_outputs(
                images, names, self.contract.model, self.network, self.onnx_session, self.device, self.bf16
            )
        except RuntimeFailureError as exc:
            if self.runtime_choice is None or self.network is None:
                raise  # a forced runtime fails as asked
            # The runtime chosen for speed fails on this input: PyTorch fp32, the reference, always runs.
            logging.getLogger(__name__).warning("runtime auto: %s; running PyTorch fp32 instead", exc.detail)
            self.bf16, self.runtime = False, "torch"
            self.runtime_choice = dataclasses.replace(self.runtime_choice, runtime="torch")
            return run_outputs(images, names, self.contract.model, self.network, None, self.device)

    def decode_batch(self, outputs: np.ndarray, batch: Mapping[str, Any], space: str | None = None) -> np.ndarray:
        """Network outputs ``(B, J, 3)`` -> camera mm, with the stacked crop geometry of the batch.

        ``space`` overrides the model's output space (a photo's joints are decoded as 2.5D).
        """
        from handpose.codecs import decode_batch

        geometry = {k: np.asarray(v) for k, v in batch.items()}
        decoded = decode_batch(
            np.asarray(outputs, dtype=np.float64),
            geometry,
            space or self.contract.output_space,
            crop_size=self.input_size,
            skeleton=self.skeleton,
            bounded=True,
        )
        return np.asarray(decoded, dtype=np.float64)

    def transform(self, center_given: bool) -> Any:
        """The contract's evaluation transform; for depth, with the given centre or one found in the depth."""
        key = "given" if center_given else "detect"
        if key not in self._transforms:
            from handpose.transforms import make_transform

            center = key if self.modality == "depth" else None
            self._transforms[key] = make_transform(self.contract, train=False, augment=False, center=center)
        return self._transforms[key]

    def preprocess(
        self,
        image: np.ndarray,
        camera: Camera | str | None = None,
        center: Sequence[float] | None = None,
        box: Sequence[float] | None = None,
        hand: str = "right",
    ) -> dict[str, np.ndarray]:
        """One input image -> the model's crop and its geometry (a :mod:`handpose.batch` row).

        The image goes through the same transform as training crops, so the same missing-depth
        policy applies to user arrays (NaN and zero depth never reach the network as numbers).
        """
        from handpose.datasets.base import Sample

        cam = self._camera(camera)
        image = self._check_image(image)
        if self.modality == "rgb":
            return self._rgb_row(image, cam, box, hand)
        j = len(self.joint_names)
        nan = np.full((j, 3), np.nan)
        center_xyz = None if center is None else np.asarray(center, dtype=np.float64).reshape(3)
        sample = Sample(
            image=image,
            joints_xyz=nan,
            joints_uvd=nan.copy(),
            visibility=np.zeros(j, dtype=bool),
            camera=cam,
            skeleton=self.skeleton,
            frame_id="input",
            modality="depth",
            center_xyz=center_xyz,
        )
        return dict(self.transform(center_xyz is not None)(sample, None))

    def _rgb_row(self, image: np.ndarray, cam: Camera, box: Sequence[float] | None, hand: str) -> dict[str, np.ndarray]:
        """The crop of a photo's hand box (default: the whole image, for photos already cropped to the hand)."""
        if hand not in ("left", "right"):
            raise HandposeError(f"hand must be left or right, got {hand!r}")
        h, w = image.shape[:2]
        x, y, bw, bh = (0.0, 0.0, float(w), float(h)) if box is None else (float(v) for v in box)
        if not all(math.isfinite(v) for v in (x, y, bw, bh)) or bw <= 0 or bh <= 0:
            raise HandposeError(f"the hand box needs a finite, positive width and height, got {list(box or [])}")
        if x >= w or y >= h or x + bw <= 0 or y + bh <= 0:
            raise HandposeError(f"the hand box {list(box or [])} lies outside the {w}x{h} image")
        # The box pixel grid: pixel centres at integers, so the box's middle is x + (w - 1) / 2.
        middle = np.array([x + (bw - 1.0) / 2.0, y + (bh - 1.0) / 2.0])
        row = dict(self.transform(False).crop_box(image, cam, middle, max(bw, bh), left=hand == "left"))
        row["left"] = np.array(hand == "left")
        return row

    def hand_scale_mm(self) -> float:
        """Length of the skeleton's scale bone (middle MCP-PIP) assumed for unlabelled RGB photos, mm.

        Raises:
            HandposeError: Neither the model nor the caller gives one.
        """
        scale = self.assumed_hand_scale_mm()
        if scale is None:
            raise HandposeError(
                "the model stores no hand scale (the training data's median middle MCP-PIP length); "
                "pass one with --hand-scale MM"
            )
        return scale

    def assumed_hand_scale_mm(self) -> float | None:
        """:meth:`hand_scale_mm`, or ``None`` when neither the model nor the caller gives one."""
        if self.scale_override_mm is not None:
            return float(self.scale_override_mm)
        stored = self.contract.hand_scale_mm
        return float(stored) if stored else None

    def predict(
        self,
        image: np.ndarray,
        camera: Camera | str | None = None,
        center: Sequence[float] | None = None,
        box: Sequence[float] | None = None,
        hand: str = "right",
    ) -> Prediction:
        """Joints for one image.

        Args:
            image: Depth ``(H, W)`` in mm (0 or NaN = missing) or RGB ``(H, W, 3)`` uint8.
            camera: Intrinsics of ``image`` (a :class:`Camera`, preset name or ``"fx,fy,cx,cy"``);
                defaults to the training camera.
            center: Hand centre in camera mm (depth); found in the depth when omitted.
            box: Hand box ``(x, y, width, height)`` in pixels (RGB); the whole image when omitted.
                A photo's camera-space joints assume the hand's scale bone is :meth:`hand_scale_mm`
                long; without that assumption only its 2D joints and its root-relative joints (in
                scale-bone lengths) are known, and ``xyz`` is NaN.
            hand: ``"right"`` or ``"left"`` (RGB; left hands are mirrored in and out, as in training).
        """
        return self.predict_batch([image], [camera], [center], [box], [hand])[0]

    def predict_batch(
        self,
        images: Sequence[np.ndarray],
        cameras: Sequence[Camera | str | None] | None = None,
        centers: Sequence[Sequence[float] | None] | None = None,
        boxes: Sequence[Sequence[float] | None] | None = None,
        hands: Sequence[str] | None = None,
    ) -> list[Prediction]:
        """Joints for several images in one forward pass."""
        n = len(images)
        cameras = list(cameras) if cameras is not None else [None] * n
        centers = list(centers) if centers is not None else [None] * n
        boxes = list(boxes) if boxes is not None else [None] * n
        hands = list(hands) if hands is not None else ["right"] * n
        rows = [self.preprocess(*args) for args in zip(images, cameras, centers, boxes, hands)]
        batch = np.stack([r["image"] for r in rows]).astype(np.float32)
        if self.modality == "rgb":
            outputs = self.forward_outputs(batch, self._photo_outputs())
            return [
                self._photo_prediction({k: v[i] for k, v in outputs.items()}, row, self._camera(cam))
                for i, (row, cam) in enumerate(zip(rows, cameras))
            ]
        joints = self.forward(batch)
        preds = []
        for row, out, cam in zip(rows, joints, cameras):
            xyz = self.decode(out, row)
            preds.append(
                Prediction(
                    xyz=xyz,
                    uvd=xyz_to_uvd(xyz, self._camera(cam)),
                    joint_names=self.joint_names,
                    skeleton=self.skeleton,
                    center_xyz=np.asarray(row["center_xyz"], dtype=np.float64),
                    extras={"cube_mm": np.asarray(row["cube"]).tolist()},
                )
            )
        return preds

    def _photo_outputs(self) -> tuple[str, ...]:
        """The outputs that place a photo's hand: 2.5D joints, or root-relative joints and 2D joints."""
        return output_names(self.contract)

    def _photo_prediction(
        self, outputs: Mapping[str, np.ndarray], row: Mapping[str, Any], camera: Camera
    ) -> Prediction:
        """A photo's joints from its crop's outputs.

        Both kinds of RGB model give the 2.5D joints of the crop: a 2.5D model directly, a
        root-relative one as its 2D joints with the depth part of its root-relative 3D joints (both
        relative to the root and in scale-bone lengths). The 2.5D joints are lifted to a hand whose
        scale bone is one unit long; the assumed hand scale (if any) turns units into millimetres.
        """
        from handpose import skeleton as skeletons

        joints = np.asarray(outputs["joints"], dtype=np.float64)
        if "uv" in outputs:
            uvz = np.concatenate([outputs["uv"], joints[:, 2:]], axis=-1)
            relative = joints
        else:
            uvz, relative = joints, None
        geometry = {"K_crop": np.asarray(row["K_crop"])[None], "scale": np.ones(1)}
        unit_xyz = self.decode_batch(uvz[None], geometry, space="uvz")[0]
        left = bool(row.get("left", False))
        if left:
            # Left hands were mirrored into the right-hand crop; mirror the joints back.
            from handpose.transforms.rgb import mirror_xyz

            unit_xyz = mirror_xyz(unit_xyz)
            relative = None if relative is None else mirror_xyz(relative)
        if relative is None:
            relative = unit_xyz - unit_xyz[skeletons.get(self.skeleton).root_index]
        scale = self.assumed_hand_scale_mm()
        if scale is None:
            xyz = np.full_like(unit_xyz, np.nan)
            uvd = xyz_to_uvd(unit_xyz, camera)  # projection does not depend on the scale
            uvd[:, 2] = np.nan
            return Prediction(
                xyz=xyz,
                uvd=uvd,
                joint_names=self.joint_names,
                skeleton=self.skeleton,
                root_relative=relative,
                root_relative_units="scale bone",
            )
        xyz = unit_xyz * scale
        return Prediction(
            xyz=xyz,
            uvd=xyz_to_uvd(xyz, camera),
            joint_names=self.joint_names,
            skeleton=self.skeleton,
            root_relative=relative * scale,
            extras={"hand_scale_mm": scale},
        )

    def decode(self, output: np.ndarray, row: Mapping[str, Any]) -> np.ndarray:
        """One output ``(J, 3)`` -> camera mm, with the crop geometry of its ``row``."""
        geometry = {k: np.asarray(v)[None] for k, v in row.items() if k != "image"}
        return np.asarray(self.decode_batch(np.asarray(output)[None], geometry)[0])

    def _camera(self, camera: Camera | str | None) -> Camera:
        if camera is None:
            stored = self.contract.camera
            if not stored:
                raise HandposeError("the model stores no camera; pass the input's intrinsics (--camera)")
            return Camera.from_dict(dict(stored))
        return get_camera(camera)

    def _check_image(self, image: np.ndarray) -> np.ndarray:
        image = np.asarray(image)
        if self.modality == "depth":
            if image.ndim != 2:
                raise HandposeError(
                    f"model {self.contract.model!r} takes depth images (H x W, mm); got shape {image.shape}"
                )
            return image.astype(np.float32)
        if image.ndim != 3 or image.shape[2] != 3:
            raise HandposeError(f"model {self.contract.model!r} takes RGB images (H x W x 3); got shape {image.shape}")
        return image
