"""The hostile-input corpus: every case writes its files into a folder and says how to run the CLI on them.

A case is a name, the class of attack it belongs to, and a function that builds its files under a
temporary folder and returns the ``handpose`` arguments, the exit status expected (2 for hostile
input, 0 for the valid baseline beside it) and the file name the error line must mention. Payloads
that would run code try to create ``MARKER`` in that folder; the test asserts it never appears.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hostile.datasets import WRITERS, Layout, write_dataset

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
V1 = FIXTURES / "contract_v1"
MARKER = "MARKER"
SPARSE_SIZE = 5 << 30  # larger than every cap; sparse, so it costs no disk


@dataclass
class Run:
    """How to run one case: arguments, expected exit status, and what the error line must name."""

    argv: list[str]
    expect: int = 2
    names: str | None = None
    # Address space: 1 GiB holds torch, OpenCV, SciPy and ONNX Runtime; train, folds and demo also load
    # Lightning, which maps more shared libraries, so they get 1.5 GiB (still far below a blow-up).
    memory: int = 1 << 30
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.argv and self.argv[0] in ("train", "folds", "demo"):
            self.memory = 3 << 29

    stdin: bytes | None = None


@dataclass(frozen=True)
class Case:
    id: str
    klass: str
    build: Callable[[Path], Run]
    fast: bool = False


CASES: list[Case] = []


def case(id: str, klass: str, fast: bool = False) -> Callable[[Callable[[Path], Run]], Callable[[Path], Run]]:
    def register(build: Callable[[Path], Run]) -> Callable[[Path], Run]:
        CASES.append(Case(id, klass, build, fast))
        return build

    return register


def add(id: str, klass: str, build: Callable[[Path], Run], fast: bool = False) -> None:
    CASES.append(Case(id, klass, build, fast))


# ------------------------------------------------------------------------------------------------
# Payloads
# ------------------------------------------------------------------------------------------------
class _Touch:
    """Unpickling this calls ``os.system('touch MARKER')``: a reader that runs it has executed code."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def __reduce__(self):
        return (os.system, (f"touch {self.folder / MARKER}",))


def pickle_payload(folder: Path) -> bytes:
    return pickle.dumps({"anno": _Touch(folder)}, protocol=2)


def yaml_payload(folder: Path) -> str:
    return f"name: x\nmodel: !!python/object/apply:os.system ['touch {folder / MARKER}']\n"


def yaml_bomb() -> str:
    text = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
    previous = "a"
    for name in "bcdefghi":
        text += f"{name}: &{name} [{', '.join(['*' + previous] * 9)}]\n"
        previous = name
    return text


def deep_json(levels: int) -> str:
    return "[" * levels + "]" * levels


def mat_bomb(path: Path, inflated: int) -> None:
    """A v5 .mat whose one compressed variable inflates to ``inflated`` bytes of zeros."""
    element = struct.pack("<II", 14, inflated) + bytes(8)  # miMATRIX tag; the body is never parsed
    body = zlib.compressobj(9)
    chunks = [body.compress(element)]
    zeros = bytes(1 << 24)
    for _ in range(inflated // len(zeros)):
        chunks.append(body.compress(zeros))
    chunks.append(body.flush())
    data = b"".join(chunks)
    header = b"MATLAB 5.0 MAT-file, hostile".ljust(116, b" ") + bytes(8) + struct.pack("<H", 0x0100) + b"IM"
    path.write_bytes(header + struct.pack("<II", 15, len(data)) + data + bytes(-len(data) % 8))


def npy_claiming(shape: tuple[int, ...]) -> bytes:
    """``.npy`` bytes whose header declares ``shape`` float64 but which hold 24 bytes of data."""
    import io

    header = np.lib.format.header_data_from_array_1_0(np.zeros(3))
    header["shape"] = shape
    out = io.BytesIO()
    np.lib.format.write_array_header_1_0(out, header)
    return out.getvalue() + bytes(24)


def npz_claiming(path: Path, shape: tuple[int, ...]) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("joints.npy", npy_claiming(shape))


def npz_zip_bomb(path: Path, inflated: int) -> None:
    """An .npz whose member inflates to ``inflated`` bytes (a valid npy header, then zeros)."""
    header = np.lib.format.header_data_from_array_1_0(np.zeros(3))
    header["shape"] = (inflated // 8,)
    import io

    head = io.BytesIO()
    np.lib.format.write_array_header_1_0(head, header)
    archive = zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED)
    with archive, archive.open("joints.npy", "w", force_zip64=True) as fh:
        fh.write(head.getvalue())
        zeros = bytes(1 << 24)
        for _ in range(inflated // len(zeros)):
            fh.write(zeros)


# ------------------------------------------------------------------------------------------------
# Ways to replace a file with something hostile
# ------------------------------------------------------------------------------------------------
def _replace(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()
    path.parent.mkdir(parents=True, exist_ok=True)


def make_fifo(path: Path) -> None:
    _replace(path)
    os.mkfifo(path)


def make_dev_zero(path: Path) -> None:
    _replace(path)
    path.symlink_to("/dev/zero")


def make_folder(path: Path) -> None:
    _replace(path)
    path.mkdir()


def make_empty(path: Path) -> None:
    _replace(path)
    path.write_bytes(b"")


def make_garbage(path: Path) -> None:
    _replace(path)
    path.write_bytes(np.random.default_rng(3).integers(0, 256, 4096, dtype=np.uint8).tobytes())


def make_sparse(path: Path) -> None:
    """A file larger than any cap, holding nothing but zeros (sparse: no disk used)."""
    _replace(path)
    with open(path, "wb") as fh:
        fh.truncate(SPARSE_SIZE)


def make_escape(path: Path) -> None:
    """Move the (valid) file out of the dataset and leave a symlink to it: reading it leaves the root."""
    target = _outside_dir() / f"escaped-{path.name}"
    shutil.move(str(path), target)
    path.symlink_to(target)


_OUTSIDE: dict[str, Path] = {}


def _outside_dir() -> Path:
    folder = Path(_OUTSIDE["dir"])
    folder.mkdir(parents=True, exist_ok=True)
    return folder


FILE_ATTACKS: dict[str, Callable[[Path], None]] = {
    "fifo": make_fifo,
    "dev-zero": make_dev_zero,
    "folder": make_folder,
    "empty": make_empty,
    "garbage": make_garbage,
    "sparse-5GB": make_sparse,
    "symlink-escape": make_escape,
}
FAST_FILE_ATTACKS = {"fifo", "dev-zero", "symlink-escape"}
FAST_READERS = {"icvl", "rhd"}


def _check_argv(root: Path, layout: Layout, verb: str = "check") -> list[str]:
    argv = ["data", verb, "--dataset", layout.dataset, "--root", str(root), "--split", layout.split]
    for option in layout.options:
        argv += ["--option", option]
    if verb == "show":
        argv += ["--out", str(root.parent / "show"), "--count", "1", "--size", "64"]
    return argv


def _dataset(tmp: Path, name: str) -> tuple[Path, Layout]:
    _OUTSIDE["dir"] = str(tmp / "outside")
    root = tmp / "data" / name
    return root, write_dataset(name, root)


# ------------------------------------------------------------------------------------------------
# Every reader: a valid baseline, and its label file and one image replaced by each attack
# ------------------------------------------------------------------------------------------------
def _baseline(name: str, verb: str) -> Callable[[Path], Run]:
    def build(tmp: Path) -> Run:
        root, layout = _dataset(tmp, name)
        return Run(_check_argv(root, layout, verb), expect=0)

    return build


def _label_attack(name: str, attack: str) -> Callable[[Path], Run]:
    def build(tmp: Path) -> Run:
        root, layout = _dataset(tmp, name)
        FILE_ATTACKS[attack](root / layout.label)
        return Run(_check_argv(root, layout), names=Path(layout.label).name)

    return build


def _image_attack(name: str, attack: str) -> Callable[[Path], Run]:
    def build(tmp: Path) -> Run:
        root, layout = _dataset(tmp, name)
        FILE_ATTACKS[attack](root / layout.image)
        return Run(_check_argv(root, layout, "show"), names=Path(layout.image).name)

    return build


for _name in WRITERS:
    add(
        f"baseline-check-{_name}",
        "baseline",
        _baseline(_name, "check"),
        fast=_name in {"icvl", "rhd", "freihand", "nyu"},
    )
    add(f"baseline-show-{_name}", "baseline", _baseline(_name, "show"))
    for _attack in FILE_ATTACKS:
        add(
            f"label-{_attack}-{_name}",
            _attack,
            _label_attack(_name, _attack),
            fast=_attack in FAST_FILE_ATTACKS and _name in FAST_READERS,
        )
    for _attack in ("fifo", "dev-zero", "garbage", "symlink-escape"):
        add(
            f"image-{_attack}-{_name}",
            _attack,
            _image_attack(_name, _attack),
            fast=_name == "icvl" and _attack == "fifo",
        )


# ------------------------------------------------------------------------------------------------
# Label contents: paths leaving the root, non-finite and absurd values, strings, payloads, nesting
# ------------------------------------------------------------------------------------------------
def _edit_text(name: str, edit: Callable[[str], str], names: str | None = None) -> Callable[[Path], Run]:
    def build(tmp: Path) -> Run:
        root, layout = _dataset(tmp, name)
        path = root / layout.label
        path.write_text(edit(path.read_text()))
        return Run(_check_argv(root, layout), names=names or path.name)

    return build


def _first_name(text: str, new: str) -> str:
    first, _, rest = text.partition("\n")
    sep = "\t" if "\t" in first else " "
    return sep.join([new, *first.split(sep)[1:]]) + "\n" + rest


def _first_value(text: str, new: str) -> str:
    """Replace the last number on the first data line."""
    lines = text.splitlines(keepends=True)
    for i, line in enumerate(lines):
        stripped = line.rstrip("\n")
        for sep in (", ", ",", "\t", " "):
            if sep in stripped:
                head, _, _ = stripped.rpartition(sep)
                lines[i] = f"{head}{sep}{new}\n"
                return "".join(lines)
    raise AssertionError("no numbers to replace")


for _name in ("icvl", "hands2017", "hands2019"):
    add(
        f"name-parent-escape-{_name}",
        "path-escape",
        _edit_text(_name, lambda t: _first_name(t, "../../../x.png")),
        fast=_name == "icvl",
    )
    add(
        f"name-etc-passwd-{_name}", "path-escape", _edit_text(_name, lambda t: _first_name(t, "../../../../etc/passwd"))
    )
    add(f"name-absolute-{_name}", "path-escape", _edit_text(_name, lambda t: _first_name(t, "/etc/passwd")))
for _name in ("icvl", "hands2017", "hands2019", "msra", "ganerated", "synthhands", "dexter"):
    for _value, _klass in (
        ("nan", "non-finite"),
        ("inf", "non-finite"),
        ("1e308", "huge-value"),
        ("abc", "not-a-number"),
    ):
        add(
            f"label-{_klass}-{_value}-{_name}",
            _klass,
            _edit_text(_name, lambda t, v=_value: _first_value(t, v)),
            fast=(_name, _value) in (("icvl", "1e308"), ("msra", "nan")),
        )


def _json_edit(edit: Callable[[list], object], label: str = "training_xyz.json") -> Callable[[Path], Run]:
    def build(tmp: Path) -> Run:
        root, layout = _dataset(tmp, "freihand")
        path = root / label
        path.write_text(json.dumps(edit(json.loads(path.read_text())), allow_nan=True))
        return Run(_check_argv(root, layout), names=label)

    return build


def _set(data: list, index: tuple, value: object) -> list:
    target = data
    for i in index[:-1]:
        target = target[i]
    target[index[-1]] = value
    return data


add(
    "json-strings-freihand-xyz",
    "wrong-type",
    _json_edit(lambda d: [[[str(v) for v in j] for j in f] for f in d]),
    fast=True,
)
add("json-nan-freihand-xyz", "non-finite", _json_edit(lambda d: _set(d, (0, 3, 1), float("nan"))))
add("json-huge-freihand-xyz", "huge-value", _json_edit(lambda d: _set(d, (0, 3, 1), 1e308)))
add("json-nan-freihand-K", "non-finite", _json_edit(lambda d: _set(d, (0, 0, 0), float("nan")), "training_K.json"))
add("json-strings-freihand-K", "wrong-type", _json_edit(lambda d: _set(d, (0, 0, 0), "480"), "training_K.json"))
add("json-object-freihand-xyz", "wrong-type", _json_edit(lambda d: {"xyz": d}))
for _levels in (5_000, 200_000):

    def _deep(tmp: Path, levels: int = _levels) -> Run:
        root, layout = _dataset(tmp, "freihand")
        (root / "training_xyz.json").write_text(deep_json(levels))
        return Run(_check_argv(root, layout), names="training_xyz.json")

    add(f"json-deep-{_levels}-freihand", "deep-nesting", _deep, fast=_levels == 200_000)


def _pickle_case(name: str, make: Callable[[Path, dict], object]) -> Callable[[Path], Run]:
    def build(tmp: Path) -> Run:
        root, layout = _dataset(tmp, name)
        path = root / layout.label
        original = pickle.loads(path.read_bytes())  # written by the fixture a line above: trusted
        path.write_bytes(pickle.dumps(make(tmp, original), protocol=2))
        return Run(_check_argv(root, layout), names=path.name)

    return build


for _name in ("rhd", "ho3d"):

    def _payload(tmp: Path, name: str = _name) -> Run:
        root, layout = _dataset(tmp, name)
        (root / layout.label).write_bytes(pickle_payload(tmp))
        return Run(_check_argv(root, layout), names=Path(layout.label).name)

    add(f"pickle-payload-{_name}", "code-payload", _payload, fast=True)
    add(f"pickle-list-{_name}", "wrong-type", _pickle_case(_name, lambda tmp, d: [d]))


def _rhd_field(field_name: str, value: Callable[[np.ndarray], object], klass: str) -> None:
    def make(tmp: Path, data: dict) -> dict:
        data[0][field_name] = value(np.array(data[0][field_name]))
        return data

    add(f"pickle-{klass}-rhd-{field_name}", klass, _pickle_case("rhd", make))


_rhd_field("K", lambda k: np.full_like(k, np.nan), "non-finite")
_rhd_field("K", lambda k: k.astype(str), "wrong-type")
_rhd_field("xyz", lambda x: x.astype(str), "wrong-type")
_rhd_field("xyz", lambda x: np.full_like(x, 1e30), "huge-value")


def _ho3d_field(field_name: str, value: Callable[[np.ndarray], object], klass: str) -> None:
    def make(tmp: Path, data: dict) -> dict:
        data[field_name] = value(np.asarray(data[field_name]))
        return data

    add(f"pickle-{klass}-ho3d-{field_name}", klass, _pickle_case("ho3d", make))


_ho3d_field("camMat", lambda k: np.full_like(k, np.nan), "non-finite")
_ho3d_field("handJoints3D", lambda x: x.astype(str), "wrong-type")


def _mat_case(name: str, write: Callable[[Path], None], fast: bool = False, klass: str = "zip-bomb") -> None:
    def build(tmp: Path) -> Run:
        root, layout = _dataset(tmp, name)
        path = root / layout.label
        write(path)
        return Run(_check_argv(root, layout), names=path.name)

    add(f"mat-{klass}-{name}", klass, build, fast=fast)


def _savemat(variables: dict) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        import scipy.io

        scipy.io.savemat(str(path), variables)

    return write


_mat_case("nyu", lambda p: mat_bomb(p, (1 << 30) + (64 << 20)))
_mat_case("stb", lambda p: mat_bomb(p, (1 << 30) + (64 << 20)))
_cell = np.empty((1, 2), dtype=object)
_cell[0, 0], _cell[0, 1] = np.zeros((3, 21)), np.zeros((3, 21))
_mat_case("stb", _savemat({"handPara": _cell}), klass="cell-array")
_mat_case("stb", _savemat({"handPara": np.full((3, 21, 2), np.nan)}), klass="non-finite")
_mat_case(
    "nyu",
    _savemat({"joint_xyz": np.full((3, 2, 36, 3), np.nan), "joint_uvd": np.zeros((3, 2, 36, 3))}),
    klass="non-finite",
)
_mat_case(
    "nyu",
    _savemat({"joint_xyz": np.full((3, 2, 36, 3), 1e308), "joint_uvd": np.full((3, 2, 36, 3), 1e308)}),
    klass="huge-value",
)
_mat_case("nyu", _savemat({"joint_xyz": np.array([["a", "b"]])}), klass="wrong-type")


def _npy_case(id: str, klass: str, data: Callable[[], bytes], fast: bool = False) -> None:
    def build(tmp: Path) -> Run:
        root, layout = _dataset(tmp, "synthetic")
        (root / "joints.npy").write_bytes(data())
        return Run(_check_argv(root, layout), names="joints.npy")

    add(id, klass, build, fast=fast)


def _npy_bytes(array: np.ndarray) -> bytes:
    import io

    out = io.BytesIO()
    np.save(out, array)
    return out.getvalue()


_npy_case("npy-header-terabyte-synthetic", "size-bomb", lambda: npy_claiming((10**11, 21, 3)), fast=True)
_npy_case("npy-nan-synthetic", "non-finite", lambda: _npy_bytes(np.full((2, 21, 3), np.nan)))
_npy_case("npy-strings-synthetic", "wrong-type", lambda: _npy_bytes(np.full((2, 21, 3), "x")))
_npy_case("npy-pickled-objects-synthetic", "code-payload", lambda: _npy_bytes(np.array([{"a": 1}], dtype=object)))


def _meta_case(id: str, klass: str, edit: Callable[[dict, Path], str], fast: bool = False) -> None:
    def build(tmp: Path) -> Run:
        root, layout = _dataset(tmp, "synthetic")
        meta = json.loads((root / "meta.json").read_text())
        (root / "meta.json").write_text(edit(meta, tmp))
        return Run(_check_argv(root, layout), names="meta.json")

    add(id, klass, build, fast=fast)


_meta_case("meta-deep-synthetic", "deep-nesting", lambda m, t: deep_json(100_000), fast=True)
_meta_case(
    "meta-nan-camera-synthetic",
    "non-finite",
    lambda m, t: json.dumps({**m, "camera": {**m["camera"], "fx": float("nan")}}),
)
_meta_case("meta-count-huge-synthetic", "huge-value", lambda m, t: json.dumps({**m, "count": 10**12}))
_meta_case("meta-count-string-synthetic", "wrong-type", lambda m, t: json.dumps({**m, "count": "2"}))
for _attack in ("fifo", "dev-zero"):

    def _meta_file(tmp: Path, attack: str = _attack) -> Run:
        root, layout = _dataset(tmp, "synthetic")
        FILE_ATTACKS[attack](root / "meta.json")
        return Run(_check_argv(root, layout), names="meta.json")

    add(f"meta-{_attack}-synthetic", _attack, _meta_file)


@case("option-subject-abc-msra", "wrong-type", fast=True)
def _option_subject(tmp: Path) -> Run:
    root, layout = _dataset(tmp, "msra")
    return Run([*_check_argv(root, layout), "--option", "subject=abc"], names="subject")


@case("option-unknown-icvl", "wrong-type")
def _option_unknown(tmp: Path) -> Run:
    root, layout = _dataset(tmp, "icvl")
    return Run([*_check_argv(root, layout), "--option", "nonsense=1"], names="nonsense")


@case("check-json-is-folder", "output-path", fast=True)
def _json_folder(tmp: Path) -> Run:
    root, layout = _dataset(tmp, "icvl")
    (tmp / "report").mkdir()
    return Run([*_check_argv(root, layout), "--json", str(tmp / "report")], names="report")


@case("check-json-under-a-file", "output-path")
def _json_under_file(tmp: Path) -> Run:
    root, layout = _dataset(tmp, "icvl")
    (tmp / "afile").write_text("x")
    return Run([*_check_argv(root, layout), "--json", str(tmp / "afile" / "r.json")], names="afile")


@case("show-out-under-a-file", "output-path")
def _show_under_file(tmp: Path) -> Run:
    root, layout = _dataset(tmp, "icvl")
    (tmp / "afile").write_text("x")
    argv = _check_argv(root, layout, "show")
    argv[argv.index("--out") + 1] = str(tmp / "afile" / "sub")
    return Run(argv, names="afile")


@case("root-is-fifo", "fifo")
def _root_fifo(tmp: Path) -> Run:
    os.mkfifo(tmp / "root")
    return Run(["data", "check", "--dataset", "icvl", "--root", str(tmp / "root")], names="root")


@case("cache-out-under-a-file", "output-path")
def _cache_under_file(tmp: Path) -> Run:
    root, _layout = _dataset(tmp, "icvl")
    (tmp / "afile").write_text("x")
    argv = [
        "data",
        "cache",
        "--dataset",
        "icvl",
        "--root",
        str(root),
        "--split",
        "train",
        "--out",
        str(tmp / "afile" / "c"),
    ]
    return Run(argv, names="afile")


@case("baseline-cache-icvl", "baseline")
def _cache_ok(tmp: Path) -> Run:
    root, _layout = _dataset(tmp, "icvl")
    return Run(
        ["data", "cache", "--dataset", "icvl", "--root", str(root), "--split", "train", "--out", str(tmp / "c")],
        expect=0,
    )


# ------------------------------------------------------------------------------------------------
# Prediction and ground-truth files (handpose evaluate)
# ------------------------------------------------------------------------------------------------
ICVL_JOINTS = 16


def _icvl_pair(tmp: Path, frames: int = 4) -> tuple[Path, Path, np.ndarray]:
    rng = np.random.default_rng(1)
    gt = np.concatenate(
        [rng.uniform(100, 200, (frames, ICVL_JOINTS, 2)), rng.uniform(300, 400, (frames, ICVL_JOINTS, 1))], -1
    )
    gt_path, pred_path = tmp / "gt.txt", tmp / "pred.txt"
    _write_uvd(gt_path, gt)
    _write_uvd(pred_path, gt + rng.normal(0, 2, gt.shape))
    return gt_path, pred_path, gt


def _write_uvd(path: Path, uvd: np.ndarray) -> None:
    path.write_text("".join(" ".join(f"{v:.4f}" for v in frame.ravel()) + "\n" for frame in uvd))


def _evaluate(gt: Path, pred: Path, *extra: str) -> list[str]:
    return ["evaluate", str(pred), "--dataset", "icvl", "--gt", str(gt), *extra]


def _pred_case(
    id: str, klass: str, write: Callable[[Path, np.ndarray], Path], expect: int = 2, fast: bool = False
) -> None:
    def build(tmp: Path) -> Run:
        gt, _, truth = _icvl_pair(tmp)
        pred = write(tmp, truth)
        return Run(_evaluate(gt, pred), expect=expect, names=None if expect == 0 else pred.name)

    add(id, klass, build, fast=fast)


def _text_pred(value: str) -> Callable[[Path, np.ndarray], Path]:
    def write(tmp: Path, truth: np.ndarray) -> Path:
        path = tmp / "pred_bad.txt"
        _write_uvd(path, truth)
        lines = path.read_text().splitlines()
        fields = lines[1].split()
        fields[4] = value
        lines[1] = " ".join(fields)
        path.write_text("\n".join(lines) + "\n")
        return path

    return write


def _attack_pred(attack: str) -> Callable[[Path, np.ndarray], Path]:
    def write(tmp: Path, truth: np.ndarray) -> Path:
        path = tmp / "pred_attack.txt"
        _write_uvd(path, truth)
        FILE_ATTACKS[attack](path)
        return path

    return write


def _saved(suffix: str, array: Callable[[np.ndarray], np.ndarray]) -> Callable[[Path, np.ndarray], Path]:
    def write(tmp: Path, truth: np.ndarray) -> Path:
        path = tmp / f"pred{suffix}"
        if suffix == ".npy":
            np.save(path, array(truth))
        elif suffix == ".npz":
            np.savez(path, pred_uvd=array(truth))
        else:
            import scipy.io

            scipy.io.savemat(str(path), {"pred_uvd": array(truth)})
        return path

    return write


for _suffix in (".npy", ".npz", ".mat"):
    _pred_case(
        f"baseline-pred{_suffix}", "baseline", _saved(_suffix, lambda t: t + 1.0), expect=0, fast=_suffix == ".mat"
    )
    _pred_case(
        f"pred{_suffix}-nan",
        "non-finite",
        _saved(_suffix, lambda t: np.where(np.arange(t.size).reshape(t.shape) == 7, np.nan, t)),
    )
    _pred_case(
        f"pred{_suffix}-1e308", "huge-value", _saved(_suffix, lambda t: np.full_like(t, 1e308)), fast=_suffix == ".npy"
    )
    _pred_case(f"pred{_suffix}-strings", "wrong-type", _saved(_suffix, lambda t: t.astype(str)))
_pred_case("baseline-pred-text", "baseline", lambda tmp, t: _icvl_pair(tmp)[1], expect=0, fast=True)
for _value, _klass in (
    ("nan", "non-finite"),
    ("inf", "non-finite"),
    ("1e308", "huge-value"),
    ("abc", "not-a-number"),
    ("0x1p9", "not-a-number"),
):
    _pred_case(f"pred-text-{_value}", _klass, _text_pred(_value), fast=_value == "1e308")
for _attack in FILE_ATTACKS:
    if _attack != "symlink-escape":  # a prediction file is named by the user: it may live anywhere
        _pred_case(f"pred-{_attack}", _attack, _attack_pred(_attack), fast=_attack in ("fifo", "dev-zero"))


def _mat_pred_bomb(tmp: Path, truth: np.ndarray) -> Path:
    path = tmp / "pred_bomb.mat"
    mat_bomb(path, (512 << 20) + (64 << 20))
    return path


def _npz_pred_claim(tmp: Path, truth: np.ndarray) -> Path:
    path = tmp / "pred_claim.npz"
    npz_claiming(path, (10**11, ICVL_JOINTS, 3))
    return path


def _npz_pred_bomb(tmp: Path, truth: np.ndarray) -> Path:
    path = tmp / "pred_bomb.npz"
    npz_zip_bomb(path, (512 << 20) + (64 << 20))
    return path


def _npy_pred_claim(tmp: Path, truth: np.ndarray) -> Path:
    path = tmp / "pred_claim.npy"
    path.write_bytes(npy_claiming((10**11, ICVL_JOINTS, 3)))
    return path


def _npy_pred_pickle(tmp: Path, truth: np.ndarray) -> Path:
    path = tmp / "pred_objects.npy"
    np.save(path, np.array([_Touch(tmp)], dtype=object), allow_pickle=True)
    return path


def _npz_pred_pickle(tmp: Path, truth: np.ndarray) -> Path:
    path = tmp / "pred_objects.npz"
    np.savez(path, pred=np.array([_Touch(tmp)], dtype=object))
    return path


_pred_case("pred-mat-zip-bomb", "zip-bomb", _mat_pred_bomb, fast=True)
_pred_case("pred-npz-zip-bomb", "zip-bomb", _npz_pred_bomb)
_pred_case("pred-npz-header-terabyte", "size-bomb", _npz_pred_claim, fast=True)
_pred_case("pred-npy-header-terabyte", "size-bomb", _npy_pred_claim)
_pred_case("pred-npy-pickle-payload", "code-payload", _npy_pred_pickle, fast=True)
_pred_case("pred-npz-pickle-payload", "code-payload", _npz_pred_pickle)
_pred_case("pred-wrong-joint-count", "wrong-shape", _saved(".npy", lambda t: t[:, :5]))


def _gt_case(id: str, klass: str, attack: Callable[[Path], None], fast: bool = False) -> None:
    def build(tmp: Path) -> Run:
        gt, pred, _ = _icvl_pair(tmp)
        attack(gt)
        return Run(_evaluate(gt, pred), names=gt.name)

    add(id, klass, build, fast=fast)


for _attack in ("fifo", "dev-zero", "folder", "empty", "garbage", "sparse-5GB"):
    _gt_case(f"gt-{_attack}", _attack, FILE_ATTACKS[_attack], fast=_attack == "dev-zero")
_gt_case(
    "gt-1e308",
    "huge-value",
    lambda p: p.write_text(p.read_text().replace(" ", " 1e308 ", 1).replace(" 1e308 ", " ", 0)),
)


def _gt_huge(path: Path) -> None:
    lines = path.read_text().splitlines()
    fields = lines[0].split()
    fields[0] = "1e308"
    lines[0] = " ".join(fields)
    path.write_text("\n".join(lines) + "\n")


_gt_case("gt-first-value-1e308", "huge-value", _gt_huge)


def _evaluate_output(id: str, klass: str, option: str, make: Callable[[Path], Path], fast: bool = False) -> None:
    def build(tmp: Path) -> Run:
        gt, pred, _ = _icvl_pair(tmp)
        target = make(tmp)
        return Run(_evaluate(gt, pred, option, str(target)), names=target.parent.name if "under" in id else target.name)

    add(id, klass, build, fast=fast)


def _folder(tmp: Path) -> Path:
    (tmp / "out_dir").mkdir()
    return tmp / "out_dir"


def _under_file(tmp: Path) -> Path:
    (tmp / "afile").write_text("x")
    return tmp / "afile" / "out.json"


_evaluate_output("evaluate-json-is-folder", "output-path", "--json", _folder, fast=True)
_evaluate_output("evaluate-json-under-a-file", "output-path", "--json", _under_file)
_evaluate_output("evaluate-plot-under-a-file", "output-path", "--plot", _under_file)


@case("evaluate-joint-order-nonsense", "wrong-type")
def _joint_order(tmp: Path) -> Run:
    gt, pred, _ = _icvl_pair(tmp)
    return Run(_evaluate(gt, pred, "--joint-order", "a,b,c"), names="joint-order")


@case("evaluate-joint-order-out-of-range", "range")
def _joint_order_range(tmp: Path) -> Run:
    gt, pred, _ = _icvl_pair(tmp)
    return Run(_evaluate(gt, pred, "--joint-order", ",".join(["99999999999"] * ICVL_JOINTS)), names="joint-order")


@case("evaluate-subject-negative", "range")
def _subject_negative(tmp: Path) -> Run:
    return Run(
        ["evaluate", "--dataset", "msra", "--checkpoint", str(V1 / "old.ckpt"), "--root", str(tmp), "--subject", "-1"],
        names="--subject",
    )


# ------------------------------------------------------------------------------------------------
# Run configs (handpose train / folds)
# ------------------------------------------------------------------------------------------------
VALID_CONFIG = "name: hostile\nmodel: {name: crossinfonet, input_size: 32, kwargs: {width: 0.25, channels: 8, fc_dim: 16}}\ndata: {dataset: icvl, root: ROOT, cube: 250.0}\n"


def _config_case(
    id: str,
    klass: str,
    text: Callable[[Path], str] | None,
    verb: str = "train",
    fast: bool = False,
    attack: str | None = None,
    names: str = "c.yaml",
) -> None:
    def build(tmp: Path) -> Run:
        path = tmp / "c.yaml"
        if text is not None:
            path.write_text(text(tmp))
        if attack is not None:
            path.write_text(VALID_CONFIG)
            FILE_ATTACKS[attack](path)
        return Run([verb, "--config", str(path)], names=names)

    add(id, klass, build, fast=fast)


def _config_with(**values: str) -> Callable[[Path], str]:
    def text(tmp: Path) -> str:
        body = VALID_CONFIG.replace("ROOT", str(tmp / "no-such-root"))
        for key, value in values.items():
            body += f"{key}: {value}\n"
        return body

    return text


def _config_replace(old: str, new: str) -> Callable[[Path], str]:
    return lambda tmp: VALID_CONFIG.replace("ROOT", str(tmp / "no-such-root")).replace(old, new)


_config_case("config-alias-bomb", "alias-bomb", lambda tmp: yaml_bomb(), fast=True)
_config_case("config-alias-bomb-folds", "alias-bomb", lambda tmp: yaml_bomb(), verb="folds")
_config_case("config-deep-flow-200000", "deep-nesting", lambda tmp: "name: " + deep_json(200_000) + "\n")
_config_case(
    "config-deep-block-5000",
    "deep-nesting",
    lambda tmp: "".join("  " * i + f"k{i}:\n" for i in range(5000)) + "  " * 5000 + "v: 1\n",
)
_config_case("config-python-payload", "code-payload", yaml_payload, fast=True)
_config_case("config-python-payload-folds", "code-payload", yaml_payload, verb="folds")
for _attack in ("fifo", "dev-zero", "folder", "garbage", "sparse-5GB"):  # empty: all defaults, a valid run
    _config_case(f"config-{_attack}", _attack, None, attack=_attack, fast=_attack == "fifo")
_config_case("config-cube-inf", "non-finite", _config_replace("cube: 250.0", "cube: .inf"), fast=True)
_config_case("config-cube-nan", "non-finite", _config_replace("cube: 250.0", "cube: .nan"))
_config_case("config-cube-huge", "range", _config_replace("cube: 250.0", "cube: 1.0e+300"))
_config_case("config-fc-dim-1e7", "size-bomb", _config_replace("fc_dim: 16", "fc_dim: 10000000"), fast=True)
_config_case("config-channels-negative", "range", _config_replace("channels: 8", "channels: -8"))
_config_case("config-input-size-1e6", "size-bomb", _config_replace("input_size: 32", "input_size: 1000000"))
_config_case("config-batch-size-0", "range", _config_replace("cube: 250.0", "cube: 250.0, batch_size: 0"))
_config_case("config-batch-size-huge", "range", _config_replace("cube: 250.0", "cube: 250.0, batch_size: 100000000"))
_config_case("config-lr-negative", "range", _config_with(optim="{lr: -1}"))
_config_case("config-lr-inf", "non-finite", _config_with(optim="{lr: .inf}"))
_config_case(
    "config-stream-count-1e12",
    "range",
    lambda tmp: (
        "name: s\nmodel: {name: crossinfonet}\ndata: {dataset: synthetic_stream, stream: {count: 1000000000000}}\n"
    ),
)
_config_case("config-string-for-number", "wrong-type", _config_replace("cube: 250.0", "cube: big"))
_config_case("config-list-at-top", "wrong-type", lambda tmp: "- 1\n- 2\n")


@case("config-baseline-reaches-the-data", "baseline", fast=False)
def _config_ok(tmp: Path) -> Run:
    path = tmp / "c.yaml"
    path.write_text(VALID_CONFIG.replace("ROOT", str(tmp / "no-such-root")))
    # The config itself is accepted: the one error is about the dataset root it names.
    return Run(["train", "--config", str(path)], names="no-such-root")


@case("train-override-alias-bomb", "alias-bomb")
def _override_bomb(tmp: Path) -> Run:
    path = tmp / "c.yaml"
    path.write_text(VALID_CONFIG.replace("ROOT", str(tmp / "no-such-root")))
    flow = "[&a [x,x,x,x,x,x,x,x,x], &b [*a,*a,*a,*a,*a,*a,*a,*a,*a], &c [*b,*b,*b,*b,*b,*b,*b,*b,*b], &d [*c,*c,*c,*c,*c,*c,*c,*c,*c], &e [*d,*d,*d,*d,*d,*d,*d,*d,*d], &f [*e,*e,*e,*e,*e,*e,*e,*e,*e], &g [*f,*f,*f,*f,*f,*f,*f,*f,*f], &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]]"
    return Run(["train", "--config", str(path), f"model.kwargs.extra={flow}"], names="model.kwargs.extra")


@case("train-num-nodes-0", "range")
def _num_nodes(tmp: Path) -> Run:
    return Run(["train", "--config", str(tmp / "c.yaml"), "--num-nodes", "0"], names="--num-nodes")


# ------------------------------------------------------------------------------------------------
# Checkpoints (handpose export) and packages (handpose predict)
# ------------------------------------------------------------------------------------------------
def _checkpoint(tmp: Path, edit: Callable[[dict], object]) -> Path:
    import torch

    ckpt = torch.load(V1 / "old.ckpt", map_location="cpu", weights_only=True)
    path = tmp / "model.ckpt"
    torch.save(edit(ckpt), path)
    return path


def _contract_edit(change: Callable[[dict], None]) -> Callable[[dict], dict]:
    def edit(ckpt: dict) -> dict:
        change(ckpt["hyper_parameters"]["contract"])
        return ckpt

    return edit


def _ckpt_case(
    id: str,
    klass: str,
    edit: Callable[[dict], object] | None,
    fast: bool = False,
    attack: str | None = None,
    names: str = "model.ckpt",
) -> None:
    def build(tmp: Path) -> Run:
        if edit is not None:
            path = _checkpoint(tmp, edit)
        else:
            path = tmp / "model.ckpt"
            shutil.copy(V1 / "old.ckpt", path)
            FILE_ATTACKS[attack](path)  # type: ignore[index]
        return Run(["export", str(path), str(tmp / "pkg")], names=names)

    add(id, klass, build, fast=fast)


@case("baseline-export-checkpoint", "baseline", fast=True)
def _export_ok(tmp: Path) -> Run:
    return Run(["export", str(V1 / "old.ckpt"), str(tmp / "pkg")], expect=0)


class _CkptPayload:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def __reduce__(self):
        return (os.system, (f"touch {self.folder / MARKER}",))


@case("checkpoint-pickle-payload", "code-payload", fast=True)
def _ckpt_payload(tmp: Path) -> Run:
    import torch

    path = tmp / "model.ckpt"
    torch.save({"hyper_parameters": _CkptPayload(tmp), "state_dict": {}}, path)
    return Run(["export", str(path), str(tmp / "pkg")], names="model.ckpt")


def _set_key(key: str, value: object) -> Callable[[dict], None]:
    def change(contract: dict) -> None:
        target = contract
        parts = key.split(".")
        for part in parts[:-1]:
            target = target[part]
        target[parts[-1]] = value

    return change


def _drop_key(key: str) -> Callable[[dict], None]:
    def change(contract: dict) -> None:
        target = contract
        parts = key.split(".")
        for part in parts[:-1]:
            target = target[part]
        del target[parts[-1]]

    return change


for _key, _value, _klass in (
    ("version", "abc", "wrong-type"),
    ("version", 99, "range"),
    ("in_channels", -3, "range"),
    ("input_size", 1_000_000, "size-bomb"),
    ("model_kwargs.fc_dim", 10_000_000, "size-bomb"),
    ("model_kwargs.channels", -8, "range"),
    ("model_kwargs.width", float("nan"), "non-finite"),
    ("crop.cube_mm", float("inf"), "non-finite"),
    ("crop.cube_mm", "250", "wrong-type"),
    ("skeleton", "nonexistent", "wrong-type"),
    ("modality", "sound", "wrong-type"),
    ("camera.fx", -588.0, "range"),
    ("camera.fx", float("nan"), "non-finite"),
    ("model", "no_such_model", "wrong-type"),
    ("depth.background", 1e308, "huge-value"),
):
    _ckpt_case(
        f"checkpoint-contract-{_key}-{_value}",
        _klass,
        _contract_edit(_set_key(_key, _value)),
        fast=_key == "model_kwargs.fc_dim" and _value == 10_000_000,
        # The registry, not the file reader, knows model names: its line names the model and the choices.
        names=str(_value) if _key == "model" else "model.ckpt",
    )
_ckpt_case("checkpoint-contract-without-cube", "wrong-shape", _contract_edit(_drop_key("crop.cube_mm")))
_ckpt_case("checkpoint-contract-without-crop", "wrong-shape", _contract_edit(_drop_key("crop")))
_ckpt_case("checkpoint-not-a-dict", "wrong-type", lambda ckpt: [1, 2, 3])
_ckpt_case("checkpoint-no-contract", "wrong-type", lambda ckpt: {"state_dict": ckpt["state_dict"]})
_ckpt_case(
    "checkpoint-weights-wrong-shape",
    "wrong-shape",
    lambda ckpt: {**ckpt, "state_dict": {k: v[..., :1] if v.ndim else v for k, v in ckpt["state_dict"].items()}},
)


def _deep_dict(levels: int) -> dict:
    node: dict = {}
    for _ in range(levels):
        node = {"a": node}
    return node


_ckpt_case("checkpoint-deep-contract", "deep-nesting", _contract_edit(_set_key("training_data", _deep_dict(200))))
for _attack in ("fifo", "dev-zero", "folder", "empty", "garbage"):
    _ckpt_case(f"checkpoint-{_attack}", _attack, None, attack=_attack)


@case("checkpoint-truncated", "truncated")
def _ckpt_truncated(tmp: Path) -> Run:
    path = tmp / "model.ckpt"
    data = (V1 / "old.ckpt").read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return Run(["export", str(path), str(tmp / "pkg")], names="model.ckpt")


@case("export-out-under-a-file", "output-path")
def _export_under_file(tmp: Path) -> Run:
    (tmp / "afile").write_text("x")
    return Run(["export", str(V1 / "old.ckpt"), str(tmp / "afile" / "pkg")], names="afile")


@case("export-out-unwritable", "output-path")
def _export_unwritable(tmp: Path) -> Run:
    return Run(["export", str(V1 / "old.ckpt"), "/proc/handpose-pkg"], names="/proc")


@case("export-metrics-deep-json", "deep-nesting")
def _export_metrics(tmp: Path) -> Run:
    (tmp / "metrics.json").write_text(deep_json(100_000))
    return Run(
        ["export", str(V1 / "old.ckpt"), str(tmp / "pkg"), "--metrics", str(tmp / "metrics.json")], names="metrics.json"
    )


@case("export-metrics-fifo", "fifo")
def _export_metrics_fifo(tmp: Path) -> Run:
    os.mkfifo(tmp / "metrics.json")
    return Run(
        ["export", str(V1 / "old.ckpt"), str(tmp / "pkg"), "--metrics", str(tmp / "metrics.json")], names="metrics.json"
    )


def _package(tmp: Path) -> Path:
    folder = tmp / "pkg"
    shutil.copytree(V1 / "package", folder)
    return folder


def _depth_input(tmp: Path) -> Path:
    path = tmp / "depth.npy"
    shutil.copy(V1 / "depth.npy", path)
    return path


def _predict(tmp: Path, model: Path, *extra: str, inputs: list[Path] | None = None) -> list[str]:
    ins = inputs if inputs is not None else [_depth_input(tmp)]
    return ["predict", str(model), *map(str, ins), "--camera", "nyu", "--out", str(tmp / "out"), "--no-plots", *extra]


@case("baseline-predict-package", "baseline", fast=True)
def _predict_ok(tmp: Path) -> Run:
    return Run(_predict(tmp, _package(tmp)), expect=0)


@case("baseline-predict-checkpoint", "baseline")
def _predict_ckpt_ok(tmp: Path) -> Run:
    return Run(_predict(tmp, V1 / "old.ckpt"), expect=0)


@case("baseline-predict-onnx", "baseline")
def _predict_onnx_ok(tmp: Path) -> Run:
    return Run(_predict(tmp, _package(tmp), "--runtime", "onnx"), expect=0)


def _package_case(
    id: str, klass: str, damage: Callable[[Path, Path], str], extra: tuple[str, ...] = (), fast: bool = False
) -> None:
    def build(tmp: Path) -> Run:
        folder = _package(tmp)
        names = damage(folder, tmp)
        return Run(_predict(tmp, folder, *extra), names=names)

    add(id, klass, build, fast=fast)


def _perturb_weights(folder: Path, tmp: Path) -> str:
    path = folder / "model.safetensors"
    data = bytearray(path.read_bytes())
    data[-16:] = bytes(16)
    path.write_bytes(bytes(data))
    return "model.safetensors"


def _swap_weights(folder: Path, tmp: Path) -> str:
    from safetensors.torch import load_file, save_file

    path = folder / "model.safetensors"
    weights = load_file(str(path))
    save_file({k: v * 1e30 for k, v in weights.items()}, str(path))
    return "model.safetensors"


def _perturb_onnx(folder: Path, tmp: Path) -> str:
    path = folder / "model.onnx"
    data = bytearray(path.read_bytes())
    data[-64:-48] = bytes(16)
    path.write_bytes(bytes(data))
    return "model.onnx"


def _edit_meta(edit: Callable[[dict], object]) -> Callable[[Path, Path], str]:
    def damage(folder: Path, tmp: Path) -> str:
        path = folder / "model.json"
        path.write_text(json.dumps(edit(json.loads(path.read_text())), allow_nan=True))
        return "model.json"

    return damage


def _meta_contract(key: str, value: object) -> Callable[[dict], dict]:
    def edit(meta: dict) -> dict:
        _set_key(key, value)(meta["contract"])
        return meta

    return edit


_package_case("package-weights-perturbed", "checksum", _perturb_weights, fast=True)
_package_case("package-weights-swapped", "checksum", _swap_weights)
_package_case("package-onnx-perturbed", "checksum", _perturb_onnx, extra=("--runtime", "onnx"))
_package_case("package-no-checksums", "checksum", _edit_meta(lambda m: {k: v for k, v in m.items() if k != "files"}))
_package_case("package-checksum-not-text", "wrong-type", _edit_meta(lambda m: {**m, "files": {"model.safetensors": 5}}))
_package_case(
    "package-meta-deep",
    "deep-nesting",
    lambda f, t: ((f / "model.json").write_text(deep_json(200_000)), "model.json")[1],
    fast=True,
)
_package_case("package-meta-garbage", "garbage", lambda f, t: (make_garbage(f / "model.json"), "model.json")[1])
_package_case("package-meta-fifo", "fifo", lambda f, t: (make_fifo(f / "model.json"), "model.json")[1])
_package_case("package-meta-dev-zero", "dev-zero", lambda f, t: (make_dev_zero(f / "model.json"), "model.json")[1])
_package_case("package-meta-sparse", "sparse-5GB", lambda f, t: (make_sparse(f / "model.json"), "model.json")[1])
_package_case("package-weights-fifo", "fifo", lambda f, t: (make_fifo(f / "model.safetensors"), "model.safetensors")[1])
_package_case("package-contract-version-abc", "wrong-type", _edit_meta(_meta_contract("version", "abc")))
_package_case("package-contract-input-size-1e6", "size-bomb", _edit_meta(_meta_contract("input_size", 1_000_000)))
_package_case("package-contract-fc-dim-1e7", "size-bomb", _edit_meta(_meta_contract("model_kwargs.fc_dim", 10_000_000)))
_package_case("package-contract-cube-nan", "non-finite", _edit_meta(_meta_contract("crop.cube_mm", float("nan"))))
_package_case("package-format-version-99", "range", _edit_meta(lambda m: {**m, "version": 99}))


def _input_case(id: str, klass: str, make: Callable[[Path], Path], fast: bool = False) -> None:
    def build(tmp: Path) -> Run:
        path = make(tmp)
        return Run(_predict(tmp, _package(tmp), inputs=[path]), names=path.name)

    add(id, klass, build, fast=fast)


def _input_attack(attack: str) -> Callable[[Path], Path]:
    def make(tmp: Path) -> Path:
        path = _depth_input(tmp)
        FILE_ATTACKS[attack](path)
        return path

    return make


for _attack in ("fifo", "dev-zero", "empty", "garbage", "sparse-5GB"):
    _input_case(f"input-{_attack}", _attack, _input_attack(_attack))
_input_case(
    "input-npy-header-terabyte",
    "size-bomb",
    lambda t: (t / "in.npy").write_bytes(npy_claiming((10**6, 10**6))) and t / "in.npy",
)
_input_case(
    "input-npy-pickle-payload",
    "code-payload",
    lambda t: (np.save(t / "in.npy", np.array([_Touch(t)], dtype=object), allow_pickle=True), t / "in.npy")[1],
)


def _png_claiming(tmp: Path) -> Path:
    import cv2

    path = tmp / "in.png"
    _ok, buf = cv2.imencode(".png", np.full((8, 8), 500, np.uint16))
    data = bytearray(buf.tobytes())
    data[16:24] = struct.pack(">II", 60000, 60000)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    path.write_bytes(bytes(data))
    return path


def _png_corrupt(tmp: Path) -> Path:
    import cv2

    path = tmp / "in.png"
    _ok, buf = cv2.imencode(".png", np.random.default_rng(0).integers(0, 3000, (64, 64)).astype(np.uint16))
    data = bytearray(buf.tobytes())
    start = data.find(b"IDAT") + 20
    data[start : start + 20] = bytes(20)  # the CRC no longer matches: libpng would complain on stderr
    path.write_bytes(bytes(data))
    return path


_input_case("input-png-header-60000x60000", "size-bomb", _png_claiming)
_input_case("input-png-corrupt-idat", "garbage", _png_corrupt, fast=True)


def _predict_option(id: str, klass: str, *extra: str, names: str, fast: bool = False) -> None:
    def build(tmp: Path) -> Run:
        return Run(_predict(tmp, _package(tmp), *extra), names=names)

    add(id, klass, build, fast=fast)


for _camera in ("-588,588,320,240", "1e-300,1e-300,320,240", "nan,588,320,240", "588,588,inf,240", "0,0,0,0"):
    _predict_option(
        f"predict-camera-{_camera}", "range", "--camera", _camera, names="camera", fast=_camera.startswith("-")
    )
for _center in ("0,0,1e-9", "0,0,-400", "nan,0,400", "0,0,inf", "1e308,0,400"):
    _predict_option(
        f"predict-center-{_center}", "range", f"--center={_center}", names="--center", fast=_center == "0,0,1e-9"
    )
for _box in ("0,0,inf,10", "nan,0,10,10", "0,0,-5,10", "1e308,0,10,10"):
    _predict_option(f"predict-box-{_box}", "range", f"--box={_box}", names="--box")
for _scale in ("inf", "-1", "0", "1e308"):
    _predict_option(
        f"predict-hand-scale-{_scale}", "range", f"--hand-scale={_scale}", names="--hand-scale", fast=_scale == "inf"
    )
_predict_option("predict-batch-size-0", "range", "--batch-size", "0", names="--batch-size")
_predict_option("predict-batch-size-1e9", "range", "--batch-size", "1000000000", names="--batch-size")
_predict_option("predict-every-0", "range", "--every", "0", names="--every")


@case("predict-out-under-a-file", "output-path")
def _predict_under_file(tmp: Path) -> Run:
    (tmp / "afile").write_text("x")
    argv = _predict(tmp, _package(tmp))
    argv[argv.index("--out") + 1] = str(tmp / "afile" / "out")
    return Run(argv, names="afile")


# ------------------------------------------------------------------------------------------------
# The other verbs' numbers and paths
# ------------------------------------------------------------------------------------------------
def _argv_case(
    id: str, klass: str, argv: Callable[[Path], list[str]], names: str, fast: bool = False, expect: int = 2
) -> None:
    add(id, klass, lambda tmp: Run(argv(tmp), names=names, expect=expect), fast=fast)


for _count in ("1000000000000", "1e12", "0", "-5", "nan"):
    _argv_case(
        f"synth-count-{_count}",
        "range",
        lambda t, c=_count: ["synth", str(t / "s"), "--count", c],
        "--count",
        fast=_count == "1000000000000",
    )
_argv_case("synth-workers-0", "range", lambda t: ["synth", str(t / "s"), "--count", "2", "--workers", "0"], "--workers")
_argv_case(
    "synth-workers-huge", "range", lambda t: ["synth", str(t / "s"), "--count", "2", "--workers", "100000"], "--workers"
)
_argv_case("synth-seed-negative", "range", lambda t: ["synth", str(t / "s"), "--count", "2", "--seed", "-1"], "--seed")
_argv_case(
    "synth-camera-negative",
    "range",
    lambda t: ["synth", str(t / "s"), "--count", "2", "--camera=-500,500,160,120,320,240"],
    "camera",
)
_argv_case(
    "synth-camera-tiny-focal",
    "range",
    lambda t: ["synth", str(t / "s"), "--count", "2", "--camera", "1e-300,1e-300,160,120,320,240"],
    "camera",
)
_argv_case(
    "synth-camera-huge-image",
    "size-bomb",
    lambda t: ["synth", str(t / "s"), "--count", "2", "--camera", "500,500,160,120,1000000,1000000"],
    "camera",
    fast=True,
)
_argv_case(
    "synth-out-under-a-file",
    "output-path",
    lambda t: ((t / "afile").write_text("x"), ["synth", str(t / "afile" / "s"), "--count", "2"])[1],
    "afile",
)
add(
    "baseline-synth",
    "baseline",
    lambda t: Run(["synth", str(t / "s"), "--count", "2", "--camera", "icvl"], expect=0),
    fast=True,
)
_argv_case(
    "data-show-size-100000",
    "range",
    lambda t: ["data", "show", "--dataset", "icvl", "--root", str(t), "--out", str(t / "o"), "--size", "100000"],
    "--size",
    fast=True,
)
_argv_case(
    "data-show-count-0",
    "range",
    lambda t: ["data", "show", "--dataset", "icvl", "--root", str(t), "--out", str(t / "o"), "--count", "0"],
    "--count",
)
_argv_case(
    "data-check-images-negative",
    "range",
    lambda t: ["data", "check", "--dataset", "icvl", "--root", str(t), "--images", "-1"],
    "--images",
)
_argv_case(
    "data-cache-cube-inf",
    "range",
    lambda t: ["data", "cache", "--dataset", "icvl", "--root", str(t), "--out", str(t / "c"), "--cube", "inf"],
    "--cube",
)
_argv_case(
    "data-cache-patch-1e6",
    "range",
    lambda t: [
        "data",
        "cache",
        "--dataset",
        "icvl",
        "--root",
        str(t),
        "--out",
        str(t / "c"),
        "--patch-size",
        "1000000",
    ],
    "--patch-size",
)
_argv_case(
    "data-cache-margin-nan",
    "range",
    lambda t: ["data", "cache", "--dataset", "icvl", "--root", str(t), "--out", str(t / "c"), "--margin", "nan"],
    "--margin",
)
_argv_case(
    "data-unknown-dataset", "wrong-type", lambda t: ["data", "check", "--dataset", "nope", "--root", str(t)], "nope"
)
for _flag, _value in (
    ("--batch-size", "0"),
    ("--lr", "-1"),
    ("--lr", "nan"),
    ("--lr", "inf"),
    ("--steps", "-1"),
    ("--calibration", "0"),
    ("--steps", "1e12"),
):
    _argv_case(
        f"quantize{_flag}-{_value}",
        "range",
        lambda t, f=_flag, v=_value: ["quantize", str(V1 / "old.ckpt"), str(t / "q"), f, v],
        _flag,
        fast=(_flag, _value) in (("--batch-size", "0"), ("--lr", "-1")),
    )
_argv_case(
    "quantize-checkpoint-fifo",
    "fifo",
    lambda t: (os.mkfifo(t / "m.ckpt"), ["quantize", str(t / "m.ckpt"), str(t / "q")])[1],
    "m.ckpt",
)
_argv_case(
    "folds-subjects-nonsense",
    "wrong-type",
    lambda t: ["folds", "--config", str(t / "c.yaml"), "--subjects", "a-z"],
    "subjects",
)
_argv_case(
    "demo-out-under-a-file",
    "output-path",
    lambda t: ((t / "afile").write_text("x"), ["demo", "--quick", "--out", str(t / "afile" / "d")])[1],
    "afile",
)
add("baseline-models", "baseline", lambda t: Run(["models"], expect=0), fast=True)
_argv_case("models-no-match", "wrong-type", lambda t: ["models", "zzz-no-such-*"], "zzz")


def by_id() -> dict[str, Case]:
    ids = [c.id for c in CASES]
    duplicates = {i for i in ids if ids.count(i) > 1}
    assert not duplicates, f"duplicate case ids: {sorted(duplicates)}"
    return {c.id: c for c in CASES}


def _evaluate_checkpoint_word(word: str) -> Callable[[Path], list[str]]:
    return lambda t: ["evaluate", "--dataset", "msra", "--checkpoint", str(V1 / "old.ckpt"), "--root", str(t), word]


_BOMB_FLOW = (
    "[&a [x,x,x,x,x,x,x,x,x], &b [*a,*a,*a,*a,*a,*a,*a,*a,*a], &c [*b,*b,*b,*b,*b,*b,*b,*b,*b], "
    + ", ".join(f"&{n} [{','.join(['*' + p] * 9)}]" for p, n in zip("cdefg", "defgh"))
    + "]"
)
_argv_case("evaluate-option-subject-abc", "wrong-type", _evaluate_checkpoint_word("data.subject=abc"), "subject")
_argv_case("evaluate-option-invalid-yaml", "wrong-type", _evaluate_checkpoint_word("data.subject=["), "data.subject")
_argv_case(
    "evaluate-option-alias-bomb", "alias-bomb", _evaluate_checkpoint_word(f"data.reader_kwargs.x={_BOMB_FLOW}"), "x"
)
