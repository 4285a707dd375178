"""trainer.precision: auto picks bf16 mixed precision only where the hardware computes in bfloat16."""

from __future__ import annotations

import pytest

from handpose.training.precision import choose_precision, cpu_flags, cpu_has_bf16

ZEN4 = {"sse4_2", "avx2", "avx512f", "avx512_bf16", "avx512_vnni"}
SAPPHIRE_RAPIDS = {"avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile", "amx_int8"}
AMX_ONLY = {"avx2", "avx512f", "amx_bf16", "amx_tile"}
SKYLAKE = {"sse4_2", "avx2", "avx512f", "avx512_vnni"}
LAPTOP = {"sse4_2", "avx2", "fma"}


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (ZEN4, "bf16-mixed"),
        (SAPPHIRE_RAPIDS, "bf16-mixed"),
        (AMX_ONLY, "bf16-mixed"),
        (SKYLAKE, "32-true"),
        (LAPTOP, "32-true"),
        (set(), "32-true"),
    ],
)
def test_auto_on_cpu_follows_bf16_instructions(flags: set[str], expected: str) -> None:
    precision, why = choose_precision("auto", "cpu", flags)
    assert precision == expected
    assert why.startswith("auto")
    assert cpu_has_bf16(flags) == (expected == "bf16-mixed")


def test_reason_names_the_instructions_found() -> None:
    assert "AMX_BF16" in choose_precision("auto", "cpu", SAPPHIRE_RAPIDS)[1]
    assert "AVX512_BF16" in choose_precision("auto", "cpu", ZEN4)[1]


def test_auto_on_gpu_follows_cuda_support_not_cpu_flags() -> None:
    assert choose_precision("auto", "gpu", LAPTOP, cuda_bf16=True)[0] == "bf16-mixed"
    assert choose_precision("auto", "gpu", ZEN4, cuda_bf16=False)[0] == "16-mixed"


@pytest.mark.parametrize("requested", ["32-true", "bf16-mixed", "16-mixed", "64-true"])
def test_an_explicit_choice_is_kept(requested: str) -> None:
    assert choose_precision(requested, "cpu", ZEN4 if requested == "32-true" else LAPTOP) == (
        requested,
        "set in the config",
    )


def test_cpu_flags_reads_this_machine() -> None:
    flags = cpu_flags()
    assert isinstance(flags, frozenset)
    assert all(isinstance(f, str) and f for f in flags)


def test_measured_speed_decides_on_a_cpu_with_bf16_instructions() -> None:
    # An AMD EPYC with AVX512-BF16 and no AMX trains CrossInfoNet's small crops far slower in bf16.
    precision, why = choose_precision("auto", "cpu", ZEN4, speedup=0.2)
    assert precision == "32-true" and "0.20x" in why and "AVX512_BF16" in why
    assert choose_precision("auto", "cpu", SAPPHIRE_RAPIDS, speedup=3.0)[0] == "bf16-mixed"
    assert choose_precision("auto", "cpu", ZEN4, speedup=1.05)[0] == "32-true"  # within timing noise
    assert choose_precision("auto", "cpu", LAPTOP, speedup=5.0)[0] == "32-true"  # no instructions, no bf16


def test_bf16_probe_leaves_the_network_and_random_state_alone() -> None:
    import torch

    from handpose.training.precision import bf16_speedup

    net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.Dropout(0.5))
    before = {k: v.clone() for k, v in net.state_dict().items()}
    example = torch.randn(2, 1, 8, 8)
    torch.manual_seed(3)
    expected = torch.rand(1)
    torch.manual_seed(3)
    ratio = bf16_speedup(net, example)
    assert ratio > 0
    assert torch.equal(torch.rand(1), expected)
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
