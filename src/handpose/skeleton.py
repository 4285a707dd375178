"""Skeletons as data: the joint conventions of every supported dataset, and maps between them.

Every joint index in handpose comes from here. A :class:`Skeleton` lists its joints in the dataset's
native order; each joint knows its parent, its finger and the joint of the canonical 21-joint hand it
corresponds to. Fingers, the palm/finger partition CrossInfoNet uses and the per-finger groups
FingerPoseNet uses are *derived* from that data, never typed as index lists elsewhere.

Canonical order (``canonical21``)::

    0 wrist; 1-4 thumb (CMC, MCP, IP, tip); 5-8 index (MCP, PIP, DIP, tip); 9-12 middle;
    13-16 ring; 17-20 little.

This is the order FreiHAND, GANerated and SynthHands use on disk (the "SNAP" order).

Correspondences marked approximate in a skeleton's ``notes`` (for example NYU's "mid" joints, which
sit between PIP and DIP) are good enough to transfer a model between datasets, not to score one
dataset's labels against another's.

Example:
    >>> from handpose import skeleton
    >>> nyu = skeleton.get("nyu14")
    >>> nyu.finger_indices  # the five fingertips, CrossInfoNet's finger branch on NYU
    (0, 2, 4, 6, 8)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

import numpy as np

from handpose.errors import HandposeError

FINGERS: tuple[str, ...] = ("thumb", "index", "middle", "ring", "little")

PalmRule = Literal["all_but_tips", "roots_and_bases"]


@dataclass(frozen=True)
class Joint:
    """One joint of a skeleton.

    Attributes:
        name: Unique name within the skeleton.
        parent: Name of the parent joint, ``None`` for the root.
        finger: One of :data:`FINGERS`, or ``None`` for palm and wrist joints.
        canonical: Index of the corresponding joint in ``canonical21``, or ``None`` if none exists.
    """

    name: str
    parent: str | None
    finger: str | None = None
    canonical: int | None = None


@dataclass(frozen=True)
class Skeleton:
    """A dataset's joint convention.

    Attributes:
        name: Registry name, e.g. ``"nyu14"``.
        joints: Joints in the dataset's native order.
        palm_rule: How CrossInfoNet splits the joints into its palm and finger branches:
            ``"all_but_tips"`` (NYU: the fingertips form the finger branch) or ``"roots_and_bases"``
            (MSRA, HANDS, ICVL: wrist/palm and the first joint of every finger form the palm branch).
        root_name: Joint used as the origin for root-relative coordinates (middle MCP where present).
        scale_bone: Two joint names whose distance is the scale unit (middle MCP–PIP where present).
        hands_per_frame: How many hands a label row holds on disk (RHD stores left and right).
        description: One line naming the dataset and the order.
        source: Where the order comes from.
        notes: Caveats, e.g. approximate correspondences.
    """

    name: str
    joints: tuple[Joint, ...]
    palm_rule: PalmRule = "roots_and_bases"
    root_name: str | None = None
    scale_bone: tuple[str, str] | None = None
    hands_per_frame: int = 1
    description: str = ""
    source: str = ""
    notes: str = ""
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        index = {j.name: i for i, j in enumerate(self.joints)}
        if len(index) != len(self.joints):
            raise ValueError(f"skeleton {self.name}: duplicate joint names")
        for j in self.joints:
            if j.parent is not None and j.parent not in index:
                raise ValueError(f"skeleton {self.name}: joint {j.name} has unknown parent {j.parent}")
            if j.finger is not None and j.finger not in FINGERS:
                raise ValueError(f"skeleton {self.name}: joint {j.name} has unknown finger {j.finger}")
        object.__setattr__(self, "_index", index)

    # -- basic views ---------------------------------------------------------------------------
    @property
    def num_joints(self) -> int:
        return len(self.joints)

    def __len__(self) -> int:
        return len(self.joints)

    @property
    def joint_names(self) -> tuple[str, ...]:
        return tuple(j.name for j in self.joints)

    def index(self, name: str) -> int:
        """Native index of the joint called ``name``."""
        try:
            return self._index[name]
        except KeyError:
            raise HandposeError(f"skeleton {self.name} has no joint {name!r}") from None

    @cached_property
    def parents(self) -> tuple[int, ...]:
        """Parent index per joint; -1 for the root."""
        return tuple(-1 if j.parent is None else self._index[j.parent] for j in self.joints)

    @cached_property
    def bones(self) -> tuple[tuple[int, int], ...]:
        """(parent, child) index pairs, one per non-root joint, in native joint order."""
        return tuple((p, c) for c, p in enumerate(self.parents) if p >= 0)

    @cached_property
    def root_index(self) -> int:
        """Index of :attr:`root_name`, or of the kinematic root when no root joint is declared."""
        if self.root_name is not None:
            return self.index(self.root_name)
        return self.parents.index(-1)

    @cached_property
    def scale_bone_indices(self) -> tuple[int, int] | None:
        if self.scale_bone is None:
            return None
        return self.index(self.scale_bone[0]), self.index(self.scale_bone[1])

    @cached_property
    def topological_order(self) -> tuple[int, ...]:
        """Joint indices ordered so that every parent comes before its children."""
        order: list[int] = []
        placed: set[int] = set()
        while len(order) < self.num_joints:
            progressed = False
            for i, p in enumerate(self.parents):
                if i not in placed and (p < 0 or p in placed):
                    order.append(i)
                    placed.add(i)
                    progressed = True
            if not progressed:
                raise ValueError(f"skeleton {self.name}: parent table has a cycle")
        return tuple(order)

    # -- fingers and partitions ----------------------------------------------------------------
    def _depth_in_finger(self, i: int) -> int:
        """0 for the first joint of a finger chain (its base), 1 for the next, and so on."""
        depth, p = 0, self.parents[i]
        while p >= 0 and self.joints[p].finger == self.joints[i].finger:
            depth, p = depth + 1, self.parents[p]
        return depth

    @cached_property
    def fingers(self) -> dict[str, tuple[int, ...]]:
        """Finger name -> joint indices ordered from base to tip. Fingers absent from the skeleton are left out."""
        out: dict[str, tuple[int, ...]] = {}
        for finger in FINGERS:
            members = [i for i, j in enumerate(self.joints) if j.finger == finger]
            if members:
                out[finger] = tuple(sorted(members, key=self._depth_in_finger))
        return out

    @cached_property
    def root_joints(self) -> tuple[int, ...]:
        """Joints that belong to no finger (wrist, palm centre, ...)."""
        return tuple(i for i, j in enumerate(self.joints) if j.finger is None)

    @cached_property
    def finger_bases(self) -> tuple[int, ...]:
        """First joint of every finger chain (MCP, or thumb CMC), in finger order."""
        return tuple(chain[0] for chain in self.fingers.values())

    @cached_property
    def tips(self) -> tuple[int, ...]:
        """Last joint of every finger chain, in finger order."""
        return tuple(chain[-1] for chain in self.fingers.values())

    @cached_property
    def palm_indices(self) -> tuple[int, ...]:
        """CrossInfoNet's palm branch, in native order (see :attr:`palm_rule`)."""
        if self.palm_rule == "all_but_tips":
            tips = set(self.tips)
            return tuple(i for i in range(self.num_joints) if i not in tips)
        palm = set(self.root_joints) | set(self.finger_bases)
        return tuple(i for i in range(self.num_joints) if i in palm)

    @cached_property
    def finger_indices(self) -> tuple[int, ...]:
        """CrossInfoNet's finger branch: every joint not in :attr:`palm_indices`, in native order."""
        palm = set(self.palm_indices)
        return tuple(i for i in range(self.num_joints) if i not in palm)

    @cached_property
    def subtask_groups(self) -> dict[str, tuple[int, ...]]:
        """FingerPoseNet's six sub-tasks: one per finger (base to tip) plus ``"palm"``.

        The palm group holds the root joints and every finger base, so finger bases belong to two
        groups (their finger and the palm); :attr:`shared_joints` lists them.
        """
        groups = dict(self.fingers)
        groups["palm"] = tuple(sorted(set(self.root_joints) | set(self.finger_bases)))
        return groups

    @cached_property
    def shared_joints(self) -> tuple[int, ...]:
        """Joints that belong to more than one of :attr:`subtask_groups`."""
        counts = np.zeros(self.num_joints, dtype=int)
        for members in self.subtask_groups.values():
            counts[list(members)] += 1
        return tuple(int(i) for i in np.flatnonzero(counts > 1))

    # -- maps between orders ---------------------------------------------------------------------
    @cached_property
    def canonical_indices(self) -> tuple[int | None, ...]:
        return tuple(j.canonical for j in self.joints)

    def map_to(self, other: Skeleton | str) -> tuple[np.ndarray, np.ndarray]:
        """Joints two skeletons share, through the canonical hand.

        Returns:
            ``(src, dst)`` index arrays such that ``joints_other[dst] ~ joints_self[src]``.
        """
        other = get(other) if isinstance(other, str) else other
        where = {c: i for i, c in enumerate(other.canonical_indices) if c is not None}
        pairs = [(i, where[c]) for i, c in enumerate(self.canonical_indices) if c is not None and c in where]
        src = np.array([p[0] for p in pairs], dtype=np.int64)
        dst = np.array([p[1] for p in pairs], dtype=np.int64)
        return src, dst

    def convert(self, joints: np.ndarray, other: Skeleton | str, fill: float = np.nan) -> np.ndarray:
        """Re-order ``(..., J, C)`` joints into ``other``'s order; joints without a match get ``fill``."""
        other = get(other) if isinstance(other, str) else other
        joints = np.asarray(joints)
        if joints.shape[-2] != self.num_joints:
            raise HandposeError(f"expected {self.num_joints} joints for skeleton {self.name}, got {joints.shape[-2]}")
        src, dst = self.map_to(other)
        out = np.full(
            (*joints.shape[:-2], other.num_joints, joints.shape[-1]),
            fill,
            dtype=np.result_type(joints, float),
        )
        out[..., dst, :] = joints[..., src, :]
        return out

    def to_canonical(self, joints: np.ndarray) -> np.ndarray:
        """Re-order into ``canonical21``; joints the dataset lacks are NaN."""
        return self.convert(joints, "canonical21")


# ----------------------------------------------------------------------------------------------
# Registry
# ----------------------------------------------------------------------------------------------
_REGISTRY: dict[str, Skeleton] = {}


def register(skel: Skeleton) -> Skeleton:
    """Add a skeleton to the registry (names are unique)."""
    if skel.name in _REGISTRY:
        raise ValueError(f"skeleton {skel.name!r} is already registered")
    _REGISTRY[skel.name] = skel
    return skel


def get(name: str | Skeleton) -> Skeleton:
    """Look a skeleton up by name (a :class:`Skeleton` passes through)."""
    if isinstance(name, Skeleton):
        return name
    try:
        return _REGISTRY[name]
    except KeyError:
        raise HandposeError(f"unknown skeleton {name!r}; known: {', '.join(sorted(_REGISTRY))}") from None


def names() -> list[str]:
    """Registered skeleton names, sorted."""
    return sorted(_REGISTRY)


# ----------------------------------------------------------------------------------------------
# Builders: most datasets are "a root + fingers as chains"; write them as such.
# ----------------------------------------------------------------------------------------------
_CANON_FINGER_START = {"thumb": 1, "index": 5, "middle": 9, "ring": 13, "little": 17}


def _chain(
    finger: str, names_base_to_tip: Sequence[str], parent: str, canonical_levels: Sequence[int | None]
) -> list[Joint]:
    """Joints of one finger from base to tip; level k maps to canonical joint start + k."""
    out, prev = [], parent
    for name, level in zip(names_base_to_tip, canonical_levels, strict=True):
        canon = None if level is None else _CANON_FINGER_START[finger] + level
        out.append(Joint(name, prev, finger, canon))
        prev = name
    return out


def _reorder(joints: Iterable[Joint], order: Sequence[str]) -> tuple[Joint, ...]:
    by_name = {j.name: j for j in joints}
    if set(order) != set(by_name):
        raise ValueError(f"order mismatch: {sorted(set(order) ^ set(by_name))}")
    return tuple(by_name[n] for n in order)


# Canonical 21 joints: wrist + five 4-joint chains, base to tip.
_CANON_NAMES = {
    "thumb": ("thumb_cmc", "thumb_mcp", "thumb_ip", "thumb_tip"),
    **{f: (f"{f}_mcp", f"{f}_pip", f"{f}_dip", f"{f}_tip") for f in ("index", "middle", "ring", "little")},
}


def _canonical_joints() -> list[Joint]:
    joints = [Joint("wrist", None, None, 0)]
    for finger in FINGERS:
        joints += _chain(finger, _CANON_NAMES[finger], "wrist", (0, 1, 2, 3))
    return joints


def _names_in(order: Sequence[tuple[str, int]]) -> list[str]:
    """Expand (finger, level) pairs into canonical joint names; level -1 means the wrist."""
    return ["wrist" if level < 0 else _CANON_NAMES[f][level] for f, level in order]


# canonical21 ---------------------------------------------------------------------------------------
CANONICAL21 = register(
    Skeleton(
        name="canonical21",
        joints=tuple(_canonical_joints()),
        root_name="middle_mcp",
        scale_bone=("middle_mcp", "middle_pip"),
        description="handpose's canonical hand: wrist, then thumb/index/middle/ring/little from base to tip",
        source="SNAP order used by FreiHAND (lmb-freiburg/freihand utils/fh_utils.py) and GANerated/SynthHands",
    )
)

for _name, _desc, _src in (
    (
        "freihand21",
        "FreiHAND: canonical order, metres on disk",
        "lmb-freiburg/freihand README, fh_utils.plot_hand",
    ),
    (
        "ganerated21",
        "GANerated Hands: wrist, then thumb..little MCP->tip (labelled as a left hand)",
        "Mueller et al. CVPR'18 data README",
    ),
    (
        "synthhands21",
        "SynthHands: W, T0-T3, I0-I3, M0-M3, R0-R3, L0-L3",
        "Mueller et al. ICCV'17 data README",
    ),
):
    register(
        Skeleton(
            name=_name,
            joints=tuple(_canonical_joints()),
            root_name="middle_mcp",
            scale_bone=("middle_mcp", "middle_pip"),
            description=_desc,
            source=_src,
        )
    )

# MSRA 2015 ---------------------------------------------------------------------------------------
# wrist, index mcp/pip/dip/tip, middle x4, ring x4, little x4, thumb mcp/pip/dip/tip
_MSRA_ORDER = [("wrist", -1)] + [(f, k) for f in ("index", "middle", "ring", "little", "thumb") for k in range(4)]
register(
    Skeleton(
        name="msra21",
        joints=_reorder(_canonical_joints(), _names_in(_MSRA_ORDER)),
        root_name="middle_mcp",
        scale_bone=("middle_mcp", "middle_pip"),
        description="MSRA 2015: wrist, index, middle, ring, little, thumb (each MCP->tip)",
        source="Sun et al. CVPR'15 readme; DeepPrior++ MSRA15Importer",
    )
)

# BigHand / HANDS2017 / HANDS2019 -------------------------------------------------------------------
# wrist, TMCP, IMCP, MMCP, RMCP, PMCP, then PIP, DIP, TIP of thumb, index, middle, ring, little
_BIGHAND_ORDER = [("wrist", -1)] + [(f, 0) for f in FINGERS] + [(f, k) for f in FINGERS for k in (1, 2, 3)]
for _name, _desc in (
    ("bighand21", "BigHand2.2M"),
    ("hands2017", "HANDS 2017 frame-based challenge (BigHand order)"),
    ("hands2019", "HANDS 2019 Task 1 (BigHand order)"),
):
    register(
        Skeleton(
            name=_name,
            joints=_reorder(_canonical_joints(), _names_in(_BIGHAND_ORDER)),
            root_name="middle_mcp",
            scale_bone=("middle_mcp", "middle_pip"),
            description=f"{_desc}: wrist, five MCPs, then PIP/DIP/TIP per finger thumb..little",
            source="V2V-PoseNet src/data/HANDS2017/data.lua; HANDS19-Challenge-Toolbox",
        )
    )

# HO-3D (MANO joint order with fingertips appended) -------------------------------------------------
# wrist; index 1-3; middle 1-3; little 1-3; ring 1-3; thumb 1-3; tips thumb, index, middle, ring, little
_HO3D_ORDER = (
    [("wrist", -1)]
    + [(f, k) for f in ("index", "middle", "little", "ring", "thumb") for k in (0, 1, 2)]
    + [(f, 3) for f in FINGERS]
)
register(
    Skeleton(
        name="ho3d21",
        joints=_reorder(_canonical_joints(), _names_in(_HO3D_ORDER)),
        root_name="middle_mcp",
        scale_bone=("middle_mcp", "middle_pip"),
        description="HO-3D v3: MANO's 16 joints (wrist; index, middle, little, ring, thumb x3) + 5 tips",
        source="shreyashampali/ho3d joint_order.png (MANO kinematic order, tips appended thumb..little)",
    )
)

# RHD: per hand wrist, then thumb/index/middle/ring/little each tip->MCP; left hand 0-20, right 21-41
_RHD_ORDER = [("wrist", -1)] + [(f, k) for f in FINGERS for k in (3, 2, 1, 0)]
register(
    Skeleton(
        name="rhd21",
        joints=_reorder(_canonical_joints(), _names_in(_RHD_ORDER)),
        root_name="middle_mcp",
        scale_bone=("middle_mcp", "middle_pip"),
        hands_per_frame=2,
        description="Rendered Hand Pose: wrist, thumb..little each tip->MCP; 42 rows per frame (left 0-20, right 21-41)",
        source="lmb-freiburg/hand3d; Minimal-Hand-pytorch config.py",
    )
)

# STB: palm centre, then little/ring/middle/index/thumb each MCP->tip -----------------------------------
_stb_joints = [Joint("palm", None, None, None)]
for _f in ("little", "ring", "middle", "index", "thumb"):
    _stb_joints += _chain(_f, _CANON_NAMES[_f], "palm", (0, 1, 2, 3))
register(
    Skeleton(
        name="stb21",
        joints=tuple(_stb_joints),
        root_name="middle_mcp",
        scale_bone=("middle_mcp", "middle_pip"),
        description="Stereo Hand Pose Benchmark: palm centre, then little..thumb each MCP->tip",
        source="3d-hand-shape/hand-graph-cnn STB_dataset.py; hand3d create_db.m",
        notes="Joint 0 is the palm centre, not the wrist; see the STB reader's palm-to-wrist option.",
    )
)

# Dexter+Object: five fingertips only ----------------------------------------------------------------
register(
    Skeleton(
        name="dexter5",
        joints=tuple(Joint(f"{f}_tip", None, f, _CANON_FINGER_START[f] + 3) for f in FINGERS),
        description="Dexter+Object: thumb, index, middle, ring, little fingertips (evaluation only)",
        source="Sridhar et al. ECCV'16; Minimal-Hand-pytorch datasets/dexter_object.py",
    )
)

# ICVL: palm; thumb, index, middle, ring, little each root/mid/tip --------------------------------------
_icvl = [Joint("palm", None, None, None)]
for _f in FINGERS:
    _levels = (1, 2, 3) if _f == "thumb" else (0, 1, 3)
    _icvl += _chain(_f, (f"{_f}_root", f"{_f}_mid", f"{_f}_tip"), "palm", _levels)
register(
    Skeleton(
        name="icvl16",
        joints=tuple(_icvl),
        description="ICVL: palm, then thumb/index/middle/ring/little each root, mid, tip",
        source="V2V-PoseNet src/data/ICVL/data.lua",
        notes="root/mid map to MCP/PIP (thumb: MCP/IP) approximately; the palm joint has no canonical twin.",
    )
)

# NYU: 36 joints (6 per finger little..thumb, distal first, then 6 palm points) -------------------------
_NYU_FINGER = {"little": "F1", "ring": "F2", "middle": "F3", "index": "F4", "thumb": "TH"}
_NYU_KNUCKLES = ("KNU3_A", "KNU3_B", "KNU2_A", "KNU2_B", "KNU1_A", "KNU1_B")  # distal first
# Canonical twins: KNU3_A is the tip, KNU2_B sits near the PIP (thumb: KNU3_B ~ IP, KNU2_B ~ MCP).
_NYU_CANON = {
    "thumb": {"KNU3_A": 3, "KNU3_B": 2, "KNU2_B": 1},
    **{f: {"KNU3_A": 3, "KNU2_B": 1} for f in ("little", "ring", "middle", "index")},
}
_nyu36: list[Joint] = []
for _f in ("little", "ring", "middle", "index", "thumb"):
    _prefix = _NYU_FINGER[_f]
    for _k, _knu in enumerate(_NYU_KNUCKLES):
        # Chains run from the palm outwards: KNU1_B (base) -> ... -> KNU3_A (tip).
        _parent = "PALM_3" if _knu == "KNU1_B" else f"{_prefix}_{_NYU_KNUCKLES[_k + 1]}"
        _lvl = _NYU_CANON[_f].get(_knu)
        _nyu36.append(Joint(f"{_prefix}_{_knu}", _parent, _f, None if _lvl is None else _CANON_FINGER_START[_f] + _lvl))
_nyu36 += [
    Joint("PALM_1", "PALM_3", None, None),
    Joint("PALM_2", "PALM_3", None, 0),
    Joint("PALM_3", None, None, None),
    Joint("PALM_4", "PALM_3", None, None),
    Joint("PALM_5", "PALM_3", None, None),
    Joint("PALM_6", "PALM_3", None, None),
]
register(
    Skeleton(
        name="nyu36",
        joints=tuple(_nyu36),
        palm_rule="all_but_tips",
        description="NYU Hand: 6 points per finger (little, ring, middle, index, thumb; distal first) + 6 palm points",
        source="NYU joint_data.mat joint_names; V2V-PoseNet src/data/NYU/data.lua",
        notes="KNU2_B ~ PIP and PALM_2 ~ wrist are approximate twins of the canonical joints.",
    )
)

# The 14-joint evaluation subset [0,3,6,9,12,15,18,21,24,25,27,30,31,32] of the 36.
NYU14_FROM_NYU36: tuple[int, ...] = (0, 3, 6, 9, 12, 15, 18, 21, 24, 25, 27, 30, 31, 32)
_NYU14_NAMES = (
    "little_tip", "little_mid", "ring_tip", "ring_mid", "middle_tip", "middle_mid", "index_tip", "index_mid",
    "thumb_tip", "thumb_mid", "thumb_root", "wrist_back", "wrist", "palm",
)  # fmt: skip
_nyu14: list[Joint] = []
for _name14, _i36 in zip(_NYU14_NAMES, NYU14_FROM_NYU36):
    _joint36 = _nyu36[_i36]
    _nyu14.append(Joint(_name14, None, _joint36.finger, _joint36.canonical))
_NYU14_PARENTS = {
    "little_tip": "little_mid", "ring_tip": "ring_mid", "middle_tip": "middle_mid", "index_tip": "index_mid",
    "thumb_tip": "thumb_mid", "thumb_mid": "thumb_root",
    "little_mid": "palm", "ring_mid": "palm", "middle_mid": "palm", "index_mid": "palm", "thumb_root": "palm",
    "wrist_back": "palm", "wrist": "palm",
}  # fmt: skip
register(
    Skeleton(
        name="nyu14",
        joints=tuple(Joint(j.name, _NYU14_PARENTS.get(j.name), j.finger, j.canonical) for j in _nyu14),
        palm_rule="all_but_tips",
        description="NYU 14-joint evaluation subset (joints 0,3,6,...,32 of 36)",
        source="awesome-hand-pose-estimation evaluation README; DeepPrior restrictedJointsEval",
        notes="'mid' joints sit near the PIP and 'wrist' near the canonical wrist: approximate twins.",
    )
)
