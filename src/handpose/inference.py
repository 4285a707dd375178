"""Run a trained model on new images: :class:`Estimator`.

An estimator loads a model package (``handpose export``) or a training checkpoint, and preprocesses
every input with the preprocessing contract stored inside it — the same crop transform training
used — so nothing but the model file (and the camera intrinsics of the input) is needed.

Example:
    >>> from handpose import Estimator
    >>> est = Estimator.load("runs/demo/package")
    >>> pred = est.predict(depth_mm, camera="nyu")       # hand centre found in the depth
    >>> pred.xyz.shape, pred.uvd.shape                    # (J, 3) camera mm, (J, 3) pixels + mm
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from handpose.errors import HandposeError
from handpose.geometry import Camera, get_camera, xyz_to_uvd

PACKAGE_JSON = "model.json"
PACKAGE_WEIGHTS = "model.safetensors"
PACKAGE_ONNX = "model.onnx"
PACKAGE_ONNX_INT8 = "model.int8.onnx"
RUNTIMES = ("torch", "onnx", "onnx-int8")
PACKAGE_FORMAT = "handpose-model"


@dataclass
class Prediction:
    """Joints of one hand.

    Attributes:
        xyz: ``(J, 3)`` camera-space mm (x right, y down, z forward).
        uvd: ``(J, 3)`` pixel column, row and depth mm in the input image.
        joint_names: Names in the model's skeleton order.
        skeleton: Skeleton name.
        center_xyz: Crop centre used, mm (depth models).
        extras: Crop geometry and anything model-specific.
    """

    xyz: np.ndarray
    uvd: np.ndarray
    joint_names: list[str]
    skeleton: str
    center_xyz: np.ndarray | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "skeleton": self.skeleton,
            "joint_names": self.joint_names,
            "xyz_mm": np.round(self.xyz, 3).tolist(),
            "uvd": np.round(self.uvd, 3).tolist(),
            "center_xyz_mm": None if self.center_xyz is None else np.round(self.center_xyz, 3).tolist(),
            **self.extras,
        }


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
        contract: dict[str, Any],
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

    # -- loading -------------------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | Path, device: str = "cpu", runtime: str = "torch") -> Estimator:
        """Load a model package folder (or its ``model.json``) or a ``.ckpt`` training checkpoint.

        Args:
            path: Package folder, ``model.json`` or ``.ckpt``.
            device: ``"cpu"`` or ``"cuda"``.
            runtime: ``"torch"``, ``"onnx"`` (packages exported with ``--onnx``) or ``"onnx-int8"``
                (the int8 graph of packages exported with ``--quantize int8``).

        Raises:
            HandposeError: Missing, corrupt or unsafe files, weights that do not fit the model, an
                unavailable device or runtime.
        """
        if device not in ("cpu", "cuda"):
            raise HandposeError(f"unknown device {device!r}; use cpu or cuda")
        if device == "cuda" and not torch.cuda.is_available():
            raise HandposeError("--device cuda requested but no CUDA device is available")
        if runtime not in RUNTIMES:
            raise HandposeError(f"unknown runtime {runtime!r}; use one of: {', '.join(RUNTIMES)}")
        path = Path(path)
        if path.is_dir() or path.name == PACKAGE_JSON:
            folder = path if path.is_dir() else path.parent
            contract, weights, info = read_package(folder)
            onnx_path = folder / (PACKAGE_ONNX_INT8 if runtime == "onnx-int8" else PACKAGE_ONNX)
        elif path.exists():
            from handpose.training.checkpoint import read_checkpoint

            contract, weights, meta = read_checkpoint(path)
            info = {"source": str(path), "metrics": {"val_mean_error_mm": meta["val_mean_error_mm"]}, **meta}
            onnx_path = None
        else:
            raise HandposeError("model not found (expected a package folder or a .ckpt file)", path)
        if runtime != "torch":
            if onnx_path is None or not onnx_path.is_file():
                option = "--quantize int8 (or made by handpose quantize)" if runtime == "onnx-int8" else "--onnx"
                raise HandposeError(f"--runtime {runtime} needs a package exported with {option}", path)
            return cls(None, contract, info, device, onnx_session=_onnx_session(onnx_path, device))
        network = build_loaded_network(contract, weights, str(path), info.get("temperature"))
        return cls(network.to(device), contract, info, device)

    # -- properties ----------------------------------------------------------------------------
    @property
    def modality(self) -> str:
        return str(self.contract["modality"])

    @property
    def skeleton(self) -> str:
        return str(self.contract["skeleton"])

    @property
    def joint_names(self) -> list[str]:
        from handpose import skeleton as skeletons

        return list(self.contract.get("joint_names") or skeletons.get(self.skeleton).joint_names)

    @property
    def input_size(self) -> int:
        return int(self.contract["input_size"])

    # -- running -------------------------------------------------------------------------------
    @torch.inference_mode()
    def forward(self, images: np.ndarray | torch.Tensor) -> np.ndarray:
        """Network outputs ``(B, J, 3)`` in the model's output space for preprocessed crops ``(B, C, S, S)``."""
        if self.onnx_session is not None:
            arr = images.detach().cpu().numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
            (out,) = self.onnx_session.run(["joints"], {"image": arr.astype(np.float32)})
            return np.asarray(out, dtype=np.float64)
        assert self.network is not None
        x = torch.as_tensor(images, dtype=torch.float32, device=self.device)
        if self.device.type == "cpu":
            x = x.contiguous(memory_format=torch.channels_last)
        return self.network(x)["joints"].float().cpu().numpy().astype(np.float64)

    def transform(self, center_given: bool) -> Any:
        key = "given" if center_given else "detect"
        if key not in self._transforms:
            from handpose.training.contract import make_transform

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
        """One input image -> the model's crop and its geometry (a :mod:`handpose.batch` row)."""
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
            modality=self.modality,  # type: ignore[arg-type]
            center_xyz=center_xyz,
        )
        return self.transform(center_xyz is not None)(sample, None)

    def _rgb_row(self, image: np.ndarray, cam: Camera, box: Sequence[float] | None, hand: str) -> dict[str, np.ndarray]:
        """The crop of a photo's hand box (default: the whole image, for photos already cropped to the hand)."""
        if hand not in ("left", "right"):
            raise HandposeError(f"hand must be left or right, got {hand!r}")
        if self.contract["output_space"] != "uvz":
            raise HandposeError(
                f"model {self.contract['model']!r} predicts root-relative joints only; unlabelled photos need a "
                "2.5D model (Learnable Groups); evaluate this one on a dataset instead"
            )
        h, w = image.shape[:2]
        x, y, bw, bh = (0.0, 0.0, float(w), float(h)) if box is None else (float(v) for v in box)
        if bw <= 0 or bh <= 0:
            raise HandposeError(f"the hand box needs a positive width and height, got {list(box or [])}")
        # The box pixel grid: pixel centres at integers, so the box's middle is x + (w - 1) / 2.
        middle = np.array([x + (bw - 1.0) / 2.0, y + (bh - 1.0) / 2.0])
        row = self.transform(False).crop_box(image, cam, middle, max(bw, bh), left=hand == "left")
        row["left"] = np.array(hand == "left")
        return row

    def hand_scale_mm(self) -> float:
        """Length of the skeleton's scale bone (middle MCP-PIP) assumed for unlabelled RGB photos, mm."""
        if self.scale_override_mm is not None:
            return float(self.scale_override_mm)
        stored = self.contract.get("hand_scale_mm")
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
            image: Depth ``(H, W)`` in mm (0 = missing) or RGB ``(H, W, 3)`` uint8.
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

    def decode(self, output: np.ndarray, row: dict[str, np.ndarray]) -> np.ndarray:
        """One output ``(J, 3)`` -> camera mm, with the crop geometry of its ``row``."""
        space = self.contract["output_space"]
        if space == "cube":
            from handpose.codecs import cube as cube_codec

            return np.asarray(
                cube_codec.decode(output, row["center_xyz"], row["cube"], row["rotation_deg"], row["camera"])
            )
        from handpose.codecs import uvz as uvz_codec

        if "left" in row:
            # An unlabelled photo: the root depth follows from the 2.5D joints and the assumed hand scale.
            from handpose.transforms.rgb import mirror_xyz

            xyz = uvz_codec.lift_uvz(output, row["K_crop"], self.input_size, self.skeleton, self.hand_scale_mm())
            return mirror_xyz(xyz) if bool(row["left"]) else xyz
        return np.asarray(
            uvz_codec.decode_batch(output[None], {k: np.asarray(v)[None] for k, v in row.items()}, space)
        )[0]

    def _camera(self, camera: Camera | str | None) -> Camera:
        if camera is None:
            stored = self.contract.get("camera")
            if not stored:
                raise HandposeError("the model stores no camera; pass the input's intrinsics (--camera)")
            return Camera.from_dict(stored)
        return get_camera(camera)

    def _check_image(self, image: np.ndarray) -> np.ndarray:
        image = np.asarray(image)
        if self.modality == "depth":
            if image.ndim != 2:
                raise HandposeError(
                    f"model {self.contract['model']!r} takes depth images (H x W, mm); got shape {image.shape}"
                )
            return image.astype(np.float32)
        if image.ndim != 3 or image.shape[2] != 3:
            raise HandposeError(
                f"model {self.contract['model']!r} takes RGB images (H x W x 3); got shape {image.shape}"
            )
        return image


def decode_rows(contract: dict[str, Any], outputs: np.ndarray, batch: dict[str, np.ndarray]) -> np.ndarray:
    """Network outputs ``(B, J, 3)`` -> camera mm, with the stacked crop geometry of the batch."""
    space = contract["output_space"]
    if space == "cube":
        from handpose.codecs import cube as cube_codec

        decoded = cube_codec.decode(outputs, batch["center_xyz"], batch["cube"], batch["rotation_deg"], batch["camera"])
        return np.asarray(decoded, dtype=np.float64)
    from handpose.codecs import uvz as uvz_codec

    geometry = {k: np.asarray(v, dtype=np.float64) for k, v in batch.items() if k != "image"}
    geometry["image"] = np.asarray(batch["image"])
    return np.asarray(uvz_codec.decode_batch(np.asarray(outputs, dtype=np.float64), geometry, space), dtype=np.float64)


def build_loaded_network(
    contract: dict[str, Any], weights: dict[str, torch.Tensor], source: str, temperature: float | None = None
) -> nn.Module:
    """The contract's network with ``weights`` loaded strictly, in eval mode."""
    from handpose.training.module import build_network

    network = build_network(contract, initial_weights=False)
    missing, unexpected = _compare_keys(network, weights)
    if missing or unexpected:
        raise HandposeError(
            f"weights do not fit model {contract['model']!r} "
            f"({len(missing)} missing, {len(unexpected)} unexpected, e.g. {(missing or unexpected)[0]})",
            source,
        )
    try:
        network.load_state_dict(weights, strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()
        raise HandposeError(
            f"weights do not fit model {contract['model']!r}: {first[-1].strip()[:160]}", source
        ) from None
    if temperature is not None and hasattr(network, "set_temperature"):
        network.set_temperature(float(temperature))
    return network.eval()


def _compare_keys(network: nn.Module, weights: dict[str, torch.Tensor]) -> tuple[list[str], list[str]]:
    expected = set(network.state_dict())
    given = set(weights)
    return sorted(expected - given), sorted(given - expected)


def read_package(folder: Path) -> tuple[dict[str, Any], dict[str, torch.Tensor], dict[str, Any]]:
    """The contract, weights and metadata of a model package folder."""
    from handpose.training.contract import check_contract

    meta_path = folder / PACKAGE_JSON
    if not meta_path.is_file():
        raise HandposeError(f"not a model package: {PACKAGE_JSON} missing", folder)
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise HandposeError(f"unreadable package description: {exc}", meta_path) from None
    if not isinstance(meta, dict) or meta.get("format") != PACKAGE_FORMAT:
        raise HandposeError(f"not a handpose model package (format should be {PACKAGE_FORMAT!r})", meta_path)
    contract = check_contract(meta.get("contract"), str(meta_path))
    weights_path = folder / PACKAGE_WEIGHTS
    if not weights_path.is_file():
        raise HandposeError(f"package weights missing ({PACKAGE_WEIGHTS})", folder)
    try:
        from safetensors.torch import load_file

        weights = load_file(str(weights_path), device="cpu")
    except Exception as exc:  # safetensors raises its own error types for corrupt headers
        raise HandposeError(f"corrupt weights file: {str(exc).splitlines()[0][:160]}", weights_path) from None
    info = {k: v for k, v in meta.items() if k != "contract"}
    info["source"] = str(folder)
    return contract, weights, info


def _onnx_session(path: Path, device: str) -> Any:
    try:
        import onnxruntime as ort
    except ImportError:  # pragma: no cover - a dependency
        raise HandposeError("--runtime onnx needs the onnxruntime package") from None
    providers = ["CUDAExecutionProvider", "CPUExecutionProvider"] if device == "cuda" else ["CPUExecutionProvider"]
    options = ort.SessionOptions()
    options.intra_op_num_threads = max(1, min(torch.get_num_threads(), 4))
    try:
        return ort.InferenceSession(str(path), sess_options=options, providers=providers)
    except Exception as exc:  # onnxruntime raises its own exception types for bad graphs
        raise HandposeError(f"cannot load ONNX graph: {str(exc).splitlines()[0][:160]}", path) from None
