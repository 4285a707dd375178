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

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from handpose.contract import Contract
from handpose.errors import HandposeError
from handpose.geometry import Camera, get_camera, xyz_to_uvd
from handpose.loading import RUNTIMES, open_model
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
    """

    def __init__(
        self,
        network: nn.Module | None,
        contract: Contract,
        info: dict[str, Any] | None = None,
        device: str = "cpu",
        onnx_session: Any | None = None,
    ) -> None:
        self.network = network
        self.contract = contract
        self.info = info or {}
        self.device = torch.device(device)
        self.onnx_session = onnx_session
        self.scale_override_mm: float | None = None
        self._transforms: dict[str, Any] = {}

    @classmethod
    def load(cls, path: str | Path, device: str = "cpu", runtime: str = "torch") -> Estimator:
        """Load a model package folder (or its ``model.json``) or a ``.ckpt`` training checkpoint.

        Args:
            path: Package folder, ``model.json`` or ``.ckpt``.
            device: ``"cpu"`` or ``"cuda"``.
            runtime: ``"torch"``, ``"onnx"`` (packages exported with ``--onnx``) or ``"onnx-int8"``
                (the int8 graph of packages exported with ``--quantize int8``).

        Raises:
            HandposeError: Missing, corrupt, changed or unsafe files, weights that do not fit the
                model, an unavailable device or runtime.
        """
        loaded = open_model(path, device, runtime)
        return cls(loaded.network, loaded.contract, loaded.info, device, onnx_session=loaded.session)

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
    @torch.inference_mode()
    def forward(self, images: np.ndarray | torch.Tensor) -> np.ndarray:
        """Network outputs ``(B, J, 3)`` in the model's output space for preprocessed crops ``(B, C, S, S)``."""
        if self.onnx_session is not None:
            arr = images.detach().cpu().numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
            (out,) = self.onnx_session.run(["joints"], {"image": arr.astype(np.float32)})
            return np.asarray(out, dtype=np.float64)
        if self.network is None:
            raise HandposeError("the estimator has neither a network nor an ONNX session")
        x = torch.as_tensor(images, dtype=torch.float32, device=self.device)
        if self.device.type == "cpu":
            x = x.contiguous(memory_format=torch.channels_last)
        return self.network(x)["joints"].float().cpu().numpy().astype(np.float64)

    def decode_batch(self, outputs: np.ndarray, batch: Mapping[str, Any]) -> np.ndarray:
        """Network outputs ``(B, J, 3)`` -> camera mm, with the stacked crop geometry of the batch."""
        from handpose.codecs import decode_batch

        geometry = {k: np.asarray(v) for k, v in batch.items()}
        decoded = decode_batch(
            np.asarray(outputs, dtype=np.float64),
            geometry,
            self.contract.output_space,
            crop_size=self.input_size,
            skeleton=self.skeleton,
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
        if self.contract.output_space != "uvz":
            raise HandposeError(
                f"model {self.contract.model!r} predicts root-relative joints only; unlabelled photos need a "
                "2.5D model (Learnable Groups); evaluate this one on a dataset instead"
            )
        h, w = image.shape[:2]
        x, y, bw, bh = (0.0, 0.0, float(w), float(h)) if box is None else (float(v) for v in box)
        if bw <= 0 or bh <= 0:
            raise HandposeError(f"the hand box needs a positive width and height, got {list(box or [])}")
        # The box pixel grid: pixel centres at integers, so the box's middle is x + (w - 1) / 2.
        middle = np.array([x + (bw - 1.0) / 2.0, y + (bh - 1.0) / 2.0])
        row = dict(self.transform(False).crop_box(image, cam, middle, max(bw, bh), left=hand == "left"))
        row["left"] = np.array(hand == "left")
        # No label gives the hand's size: the decoder lifts the 2.5D joints with the assumed one.
        row["scale"] = np.array(self.hand_scale_mm())
        return row

    def hand_scale_mm(self) -> float:
        """Length of the skeleton's scale bone (middle MCP-PIP) assumed for unlabelled RGB photos, mm."""
        if self.scale_override_mm is not None:
            return float(self.scale_override_mm)
        stored = self.contract.hand_scale_mm
        if not stored:
            raise HandposeError(
                "the model stores no hand scale (the training data's median middle MCP-PIP length); "
                "pass one with --hand-scale MM"
            )
        return float(stored)

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
                The 3D joints of a photo assume the hand's scale bone is :meth:`hand_scale_mm` long.
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
        outputs = self.forward(batch)
        preds = []
        for row, out, cam in zip(rows, outputs, cameras):
            xyz = self.decode(out, row)
            camera = self._camera(cam)
            preds.append(
                Prediction(
                    xyz=xyz,
                    uvd=xyz_to_uvd(xyz, camera),
                    joint_names=self.joint_names,
                    skeleton=self.skeleton,
                    center_xyz=np.asarray(row["center_xyz"], dtype=np.float64) if "center_xyz" in row else None,
                    extras={"cube_mm": np.asarray(row["cube"]).tolist()} if "cube" in row else {},
                )
            )
        return preds

    def decode(self, output: np.ndarray, row: Mapping[str, Any]) -> np.ndarray:
        """One output ``(J, 3)`` -> camera mm, with the crop geometry of its ``row``."""
        geometry = {k: np.asarray(v)[None] for k, v in row.items() if k not in ("image", "left")}
        xyz = self.decode_batch(np.asarray(output)[None], geometry)[0]
        if bool(row.get("left", False)):
            # Left hands were mirrored into the right-hand crop; mirror the joints back.
            from handpose.transforms.rgb import mirror_xyz

            xyz = mirror_xyz(xyz)
        return np.asarray(xyz)

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
