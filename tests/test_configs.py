"""Every YAML file in configs/ loads, validates, names a registered model and reader, and never picks
its checkpoint on a test split; configs/generate.py reproduces them exactly; the config loader reports mistakes as one line naming the key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from handpose.errors import HandposeError
from handpose.training.config import RunConfig, config_from_dict, load_config

CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs"
CONFIGS = sorted(CONFIG_DIR.rglob("*.yaml"))


def test_the_grid_is_complete() -> None:
    names = {p.relative_to(p.parents[1]).as_posix() for p in CONFIGS}
    for dataset in ("icvl", "nyu", "msra", "hands2017"):
        for variant in ("cross_hm", "cross", "base_hm", "base"):
            assert f"crossinfonet/{dataset}_{variant}.yaml" in names
    for dataset in ("icvl", "nyu", "msra", "hands2019", "ho3d"):
        assert f"fingerposenet/{dataset}.yaml" in names
    for dataset in ("rhd", "stb", "freihand"):
        assert f"learnable_groups/{dataset}_k3.yaml" in names
        assert f"learnable_groups/{dataset}_one_group.yaml" in names
    for dataset in ("ganerated", "synthhands", "stb"):
        assert f"resunet/{dataset}.yaml" in names
    assert any(n.startswith("synthetic/") for n in names)


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.relative_to(p.parents[1]).as_posix())
def test_config_is_valid(path: Path) -> None:
    from handpose.datasets import dataset_names
    from handpose.models import get_spec, list_models

    cfg = load_config(path)
    assert isinstance(cfg, RunConfig)
    assert cfg.model.name in list_models(), f"{path.name}: model {cfg.model.name!r} is not registered"
    spec = get_spec(cfg.model.name)
    assert cfg.data.dataset in ("synthetic_stream", "mix") or cfg.data.dataset in dataset_names()
    assert all(source.dataset in dataset_names() for source in cfg.data.mix)
    assert cfg.data.val_split not in ("test", cfg.data.train_split)
    if cfg.optim.temperature is not None or cfg.optim.group_lr:
        assert spec.family == "learnable_groups"
    if spec.family == "crossinfonet":
        # The reference schedule: Adam, lr 1e-3, x0.96 per epoch.
        assert (cfg.optim.optimizer, cfg.optim.lr, cfg.optim.schedule) == ("adam", 1e-3, "exponential")
        assert cfg.optim.gamma in (0.96, 0.9)
    # Round trip through the plain dict a checkpoint stores.
    assert config_from_dict(cfg.to_dict()) == cfg


def test_generator_reproduces_the_committed_configs(tmp_path: Path) -> None:
    # The generator's own command line, so changes to its recipes are compared as its users run it.
    done = subprocess.run(
        [sys.executable, str(CONFIG_DIR / "generate.py"), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    generated = {p.relative_to(tmp_path).as_posix(): p for p in tmp_path.rglob("*.yaml")}
    committed = {p.relative_to(CONFIG_DIR).as_posix(): p for p in CONFIGS}
    assert sorted(generated) == sorted(committed), "run `python configs/generate.py` and commit the result"
    stale = [
        rel
        for rel, p in generated.items()
        if p.read_text(encoding="utf-8") != committed[rel].read_text(encoding="utf-8")
    ]
    assert not stale, f"configs differ from configs/generate.py's output: {stale}"


def test_overrides_and_types(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("name: x\ndata:\n  dataset: synthetic_stream\noptim:\n  lr: 1e-3\n")
    cfg = load_config(path, ["optim.lr=5e-4", "trainer.max_epochs=3", "model.kwargs.dropout=0.0"])
    assert cfg.optim.lr == 5e-4 and cfg.trainer.max_epochs == 3 and cfg.model.kwargs == {"dropout": 0.0}


@pytest.mark.parametrize(
    ("text", "overrides", "needle"),
    [
        ("optim:\n  lrr: 1\n", [], "c.yaml:2: unknown key optim.lrr"),
        ("optim:\n  lr: fast\n", [], "c.yaml:2: optim.lr: expected a number"),
        ("trainer:\n  max_epochs: 0\n", [], "trainer.max_epochs: must be >= 1"),
        ("data:\n  dataset: nyu\n  root: x\n  val_split: test\n", [], "data.val_split"),
        ("data: [1, 2]\n", [], "data must be a mapping"),
        ("a: [\n", [], "invalid YAML"),
        ("", ["optim.lr"], "must look like key=value"),
        ("", ["data.dataset=nyu"], "data.root: dataset 'nyu' needs a root"),
        ("", ["trainer.progress=loud"], "trainer.progress: expected one of"),
        ("", ["trainer.freeze_batchnorm_at=1.0"], "trainer.freeze_batchnorm_at: must be a share of the steps"),
        ("loss: [1]\n", [], "c.yaml:1: loss must be a mapping"),
        ("loss:\n  name: 3\n", [], "loss.name: expected str or NoneType"),
        ("", ["loss.when=2020-01-01"], "loss: parameters must be plain"),
    ],
)
def test_mistakes_are_one_line_naming_the_key(tmp_path: Path, text: str, overrides: list[str], needle: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(HandposeError) as info:
        load_config(path, overrides)
    message = str(info.value)
    assert needle in message
    assert "\n" not in message


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(HandposeError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")


def test_loss_config_is_flat_in_yaml_and_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("loss:\n  name: crossinfonet\n  heatmap_weight: 0.0\n")
    cfg = load_config(path, ["loss.heatmap_weight=0.5"])
    assert cfg.loss.name == "crossinfonet" and cfg.loss.params == {"heatmap_weight": 0.5}
    assert cfg.to_dict()["loss"] == {"name": "crossinfonet", "heatmap_weight": 0.5}
    assert config_from_dict(cfg.to_dict()) == cfg
    default = load_config(None)
    assert default.loss.name is None and default.loss.params == {}
    # A checkpoint written before losses were configurable has no "loss" key at all.
    old = default.to_dict()
    del old["loss"]
    assert config_from_dict(old).loss == default.loss
