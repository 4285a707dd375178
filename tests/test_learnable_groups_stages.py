"""Learnable Groups training as the paper runs it: the hourglass stage first, and the no-fusion K sweep."""

from __future__ import annotations

from handpose.models import create_model, list_models
from handpose.models.registry import aliases

SMALL_HOURGLASS = {"features": 16, "depth": 2, "num_modules": 1}
SMALL = {**SMALL_HOURGLASS, "stem_channels": 8, "branch_channels": 8}
CPU_CONFIG = "configs/synthetic/learnable_groups_k3_cpu.yaml"


def test_no_fusion_sweep_of_table_3():
    names = set(list_models("learnable_groups_k*_nofusion"))
    assert names == {f"learnable_groups_k{k}_nofusion" for k in (2, 3, 4, 5, 21)}
    for k in (2, 4, 5, 21):
        model = create_model(f"learnable_groups_k{k}_nofusion", **SMALL)
        assert model.fusion is None and model.num_groups == k and model.selector_logits.shape == (21, k)
    assert not {a for a in aliases() if a.endswith(("k2_nofusion", "k4_nofusion"))}  # new names, no old alias
