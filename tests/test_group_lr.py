"""Per-group learning rates come from the model registry and match the groups each network really has."""

from __future__ import annotations

import pytest

from handpose.models import create_model, list_models
from handpose.models.registry import default_group_lr

TINY = {"features": 16, "stem_channels": 8, "branch_channels": 8, "num_modules": 1}


@pytest.mark.parametrize("name", [n for n in list_models("learnable_groups_*") if n != "learnable_groups_hourglass"])
def test_rates_name_exactly_the_groups_a_variant_has(name: str) -> None:
    model = create_model(name, **TINY)
    has = {g["name"] for g in model.param_groups()} - {"rest"}
    rates = default_group_lr(name)
    assert set(rates) == has
    assert rates.get("selector", 0.1) == 0.1 and rates.get("fusion", 0.01) == 0.01


def test_other_models_and_overrides() -> None:
    assert default_group_lr("learnable_groups_hourglass") == {}
    assert default_group_lr("crossinfonet") == {} and default_group_lr("fingerposenet") == {}
    # An alias is the model it stands for; run arguments may remove a group.
    assert default_group_lr("ljg_k3") == {"selector": 0.1, "fusion": 0.01}
    assert default_group_lr("learnable_groups_k3", {"fusion": False}) == {"selector": 0.1}
    assert default_group_lr("learnable_groups_one_group") == {}
    assert default_group_lr("learnable_groups_manual") == {"fusion": 0.01}
