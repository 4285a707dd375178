import numpy as np
import pytest

from handpose import skeleton as S
from handpose.errors import HandposeError


def test_canonical_layout():
    c = S.get("canonical21")
    assert c.num_joints == 21
    assert len(c.bones) == 20
    assert c.joint_names[0] == "wrist"
    assert c.fingers["thumb"] == (1, 2, 3, 4)
    assert c.fingers["little"] == (17, 18, 19, 20)
    assert c.parents[1] == 0 and c.parents[5] == 0 and c.parents[6] == 5
    assert c.root_index == 9 and c.scale_bone_indices == (9, 10)


@pytest.mark.parametrize("name", S.names())
def test_every_skeleton_is_a_tree(name):
    s = S.get(name)
    assert sorted(s.topological_order) == list(range(s.num_joints))
    assert all(-1 <= p < s.num_joints for p in s.parents)


def test_crossinfonet_partitions_match_reference():
    # dumyy/handpose train scripts: NYU finger = fingertips; MSRA palm = wrist + 5 MCPs.
    assert S.get("nyu14").finger_indices == (0, 2, 4, 6, 8)
    assert S.get("nyu14").palm_indices == (1, 3, 5, 7, 9, 10, 11, 12, 13)
    assert S.get("msra21").palm_indices == (0, 1, 5, 9, 13, 17)
    assert S.get("icvl16").palm_indices == (0, 1, 4, 7, 10, 13)
    # HANDS2017 uses MSRA's partition, expressed in its own order: wrist + the five MCPs 1..5.
    assert S.get("hands2017").palm_indices == (0, 1, 2, 3, 4, 5)


def test_subtask_groups_share_finger_bases():
    s = S.get("msra21")
    groups = s.subtask_groups
    assert set(groups) == {"thumb", "index", "middle", "ring", "little", "palm"}
    assert groups["index"] == (1, 2, 3, 4)
    assert groups["thumb"] == (17, 18, 19, 20)
    assert s.shared_joints == (1, 5, 9, 13, 17)
    covered = sorted(set().union(*groups.values()))
    assert covered == list(range(21))


def test_rhd_reverses_fingers(rng):
    canon = rng.normal(size=(4, 21, 3))
    rhd = S.get("canonical21").convert(canon, "rhd21")
    assert np.allclose(rhd[:, 4], canon[:, 1])  # thumb MCP-side joint is RHD 4
    assert np.allclose(rhd[:, 1], canon[:, 4])  # thumb tip is RHD 1
    assert np.allclose(rhd[:, 12], canon[:, 9])  # middle MCP is RHD 12 (the LearnableGroups root)
    assert np.allclose(S.get("rhd21").to_canonical(rhd), canon)


def test_msra_and_bighand_round_trip(rng):
    canon = rng.normal(size=(21, 3))
    for name in ("msra21", "bighand21", "ho3d21", "stb21"):
        native = S.get("canonical21").convert(canon, name)
        back = S.get(name).to_canonical(native)
        known = ~np.isnan(back[:, 0])
        assert np.allclose(back[known], canon[known])
    # STB's joint 0 is the palm centre: no canonical twin, so the wrist is unknown.
    assert np.isnan(S.get("stb21").to_canonical(S.get("canonical21").convert(canon, "stb21"))[0]).all()


def test_nyu14_is_subset_of_nyu36():
    n36, n14 = S.get("nyu36"), S.get("nyu14")
    for j14, i36 in zip(n14.joints, S.NYU14_FROM_NYU36):
        assert n36.joints[i36].finger == j14.finger
        assert n36.joints[i36].canonical == j14.canonical


def test_unknown_skeleton_lists_known():
    with pytest.raises(HandposeError, match="nyu14"):
        S.get("nope")
