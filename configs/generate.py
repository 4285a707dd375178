"""Write the experiment grid of ``configs/`` (one YAML file per seed experiment).

Run ``python configs/generate.py`` after changing a recipe here; the YAML files are committed so that
each experiment can be read, diffed and run on its own (``handpose train --config FILE``).
``tests/test_configs.py`` loads and validates every file.

Sources of the settings: CrossInfoNet's reference code (Adam, lr 1e-3 x 0.96 per epoch, batch 128,
weight decay 1e-5, 110 epochs as in the paper, the reference cubes); Learnable Groups' paper
(learning rates 1e-1 / 1e-2 / 1e-4 for selector / fusion / rest, temperature from 5 minus 0.1 every
1000 steps). Where a paper gives nothing (FingerPoseNet, ResUnet) the choice is ours and says so in
the description. Checkpoints are always chosen on a validation split, never on a test split.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import yaml

from handpose.models import list_models
from handpose.models.registry import default_group_lr

HERE = Path(__file__).resolve().parent

DEPTH_DATA: dict[str, dict[str, Any]] = {
    "icvl": {"cube": 250.0},
    # NYU: the 14 joints every published number is trained and scored on.
    "nyu": {"cube": 250.0, "train_cube": [250.0, 300.0], "reader_kwargs": {"joints": "nyu14"}},
    # MSRA: one leave-one-subject-out fold (data.subject=K); `handpose folds` runs all nine and pools them.
    "msra": {"cube": 175.0, "train_cube": [150.0, 200.0], "subject": 0},
    "hands2017": {"cube": 300.0},
    "hands2019": {"cube": 300.0},
    "ho3d": {"cube": 300.0},
}

CROSSINFONET_VARIANTS = {
    "cross_hm": ("crossinfonet", "Table 1 'Cross + HM' (the full model)"),
    "cross": ("crossinfonet_cross", "Table 1 'Cross' (no heatmap supervision)"),
    "base_hm": ("crossinfonet_base_hm", "Table 1 'Base + HM' (no cross connection)"),
    "base": ("crossinfonet_base", "Table 1 'Base' (neither)"),
}

# Every registered Learnable Groups variant (the paper's Table 2/3 rows), read from the model registry;
# the hourglass stage that initialises them has recipes of its own.
LEARNABLE_GROUPS_HOURGLASS = "learnable_groups_hourglass"
LEARNABLE_GROUPS_VARIANTS = tuple(
    n for n in list_models("learnable_groups_*", modality="rgb") if n != LEARNABLE_GROUPS_HOURGLASS
)

# torchvision's ImageNet files (see docs/reproduction.md for their addresses and SHA-256), under weights/.
IMAGENET_WEIGHTS = {"resnet34": "weights/resnet34-b627a593.pth", "resnet50": "weights/resnet50-0676ba61.pth"}


def depth_data(dataset: str, batch_size: int) -> dict[str, Any]:
    data: dict[str, Any] = {
        "dataset": dataset,
        "root": f"data/{dataset}",
        "train_split": "train",
        "val_split": "holdout",
        "val_fraction": 0.05,
        "center": "com",
        "eval_center": "com",
        "augment": True,
        "batch_size": batch_size,
        "num_workers": 4,
    }
    data.update(DEPTH_DATA[dataset])
    return data


def trainer(max_epochs: int, **extra: Any) -> dict[str, Any]:
    return {"max_epochs": max_epochs, "accelerator": "auto", "devices": 1, "precision": "auto", **extra}


def icvl_genuine_frames(configs: dict[str, dict[str, Any]]) -> None:
    """CrossInfoNet's Table 1 trains on ICVL's ~22k recorded frames; Table 2 on all 331k lines (rotated copies too)."""
    full = configs["crossinfonet/icvl_cross_hm.yaml"]
    configs["crossinfonet/icvl_cross_hm_all_frames.yaml"] = {
        **full,
        "name": "crossinfonet_icvl_cross_hm_all_frames",
        "description": "CrossInfoNet on icvl: Table 2 (all 331k training lines, rotated copies included); reference schedule",
    }
    for tag in CROSSINFONET_VARIANTS:
        config = configs[f"crossinfonet/icvl_{tag}.yaml"]
        config["data"] = {**config["data"], "reader_kwargs": {"genuine_only": True}}
        config["description"] += "; Table 1 trains on the recorded frames only"


def crossinfonet_configs() -> dict[str, dict[str, Any]]:
    out = {}
    for dataset in ("icvl", "nyu", "msra", "hands2017"):
        for tag, (model, what) in CROSSINFONET_VARIANTS.items():
            out[f"crossinfonet/{dataset}_{tag}.yaml"] = {
                "name": f"crossinfonet_{dataset}_{tag}",
                "seed": 0,
                "description": f"CrossInfoNet on {dataset}: {what}; reference schedule",
                "model": {"name": model, "input_size": 96},
                "data": depth_data(dataset, 128),
                "optim": {
                    "optimizer": "adam",
                    "lr": 1e-3,
                    "weight_decay": 1e-5,
                    "schedule": "exponential",
                    "gamma": 0.96,
                },
                "trainer": trainer(110),
            }
    icvl_genuine_frames(out)
    return out


def fingerposenet_configs() -> dict[str, dict[str, Any]]:
    out = {}
    for dataset in ("icvl", "nyu", "msra", "hands2019", "ho3d"):
        data = depth_data(dataset, 64)
        out[f"fingerposenet/{dataset}.yaml"] = {
            "name": f"fingerposenet_{dataset}",
            "seed": 0,
            "description": (
                f"FingerPoseNet on {dataset}. The paper gives no schedule: CrossInfoNet's (Adam, x0.96 per epoch) "
                "at batch 64 is our choice"
            ),
            # The paper's base is an ImageNet-pretrained ResNet-50 (model.weights=none trains from scratch).
            "model": {"name": "fingerposenet", "weights": IMAGENET_WEIGHTS["resnet50"]},
            "data": data,
            "optim": {"optimizer": "adam", "lr": 1e-3, "weight_decay": 1e-5, "schedule": "exponential", "gamma": 0.96},
            "trainer": trainer(60),
        }
    return out


def rgb_data(dataset: str, batch_size: int) -> dict[str, Any]:
    return {
        "dataset": dataset,
        "root": f"data/{dataset}",
        "train_split": "train",
        "val_split": "holdout",
        "val_fraction": 0.05,
        "augment": True,
        "batch_size": batch_size,
        "num_workers": 4,
    }


def learnable_groups_configs() -> dict[str, dict[str, Any]]:
    out = {}
    for dataset in ("rhd", "stb", "freihand"):
        stage1 = f"{LEARNABLE_GROUPS_HOURGLASS}_{dataset}"
        out[f"learnable_groups/{dataset}_hourglass.yaml"] = {
            "name": stage1,
            "seed": 0,
            "description": (
                f"Learnable Joint Groups stage 1 on {dataset}: the hourglass alone on 2D joints (L1), lr 1e-3, "
                "batch 64 as in the paper; epochs are our choice. Its best checkpoint initialises every variant"
            ),
            "model": {"name": LEARNABLE_GROUPS_HOURGLASS, "input_size": 256},
            "data": rgb_data(dataset, 64),
            "optim": {"optimizer": "adam", "lr": 1e-3, "schedule": "constant"},
            "trainer": trainer(50),
        }
        for model in LEARNABLE_GROUPS_VARIANTS:
            out[f"learnable_groups/{dataset}_{model.removeprefix('learnable_groups_')}.yaml"] = {
                "name": f"{model}_{dataset}",
                "seed": 0,
                "description": (
                    f"Learnable Joint Groups variant {model} on {dataset} (Tables 1-3), stage 2: initialised from "
                    f"the {dataset}_hourglass run, Eq. 10 in camera mm (beta 20), paper learning rates and temperature "
                    "schedule; epochs and batch are our choice (no released training code)"
                ),
                # Stage 2 starts from stage 1 (configs/learnable_groups/<dataset>_hourglass.yaml).
                "model": {"name": model, "input_size": 256, "init_from": f"runs/{stage1}/checkpoints/best.ckpt"},
                "data": rgb_data(dataset, 32),
                "optim": {
                    "optimizer": "adam",
                    "lr": 1e-4,
                    "schedule": "constant",
                    "group_lr": default_group_lr(model),
                    "temperature": {"start": 5.0, "step": 0.1, "every": 1000, "min": 0.1},
                },
                "trainer": trainer(100),
            }
    return out


def rhd_stb_data(batch_size: int) -> dict[str, Any]:
    """RHD and STB trained together (Learnable Groups' Dexter+Object model), 5 % of each held out."""
    data = rgb_data("mix", batch_size)
    del data["root"]
    data["mix"] = [{"dataset": "rhd", "root": "data/rhd"}, {"dataset": "stb", "root": "data/stb"}]
    return data


def dexter_object_configs() -> dict[str, dict[str, Any]]:
    """Learnable Groups on RHD + STB, both stages, scored on Dexter+Object (``evaluate --dataset dexter``)."""
    stage1 = f"{LEARNABLE_GROUPS_HOURGLASS}_rhd_stb"
    hourglass = learnable_groups_configs()["learnable_groups/rhd_hourglass.yaml"]
    k3 = learnable_groups_configs()["learnable_groups/rhd_k3.yaml"]
    return {
        "learnable_groups/rhd_stb_hourglass.yaml": {
            **hourglass,
            "name": stage1,
            "description": hourglass["description"].replace(" on rhd:", " on RHD + STB (the Dexter+Object model):"),
            "data": rhd_stb_data(64),
        },
        "learnable_groups/rhd_stb_k3.yaml": {
            **k3,
            "name": "learnable_groups_k3_rhd_stb",
            "description": k3["description"]
            .replace(" on rhd (Tables 1-3)", " on RHD + STB, scored on Dexter+Object")
            .replace("rhd_hourglass", "rhd_stb_hourglass"),
            "model": {**k3["model"], "init_from": f"runs/{stage1}/checkpoints/best.ckpt"},
            "data": rhd_stb_data(32),
        },
    }


def resunet_configs() -> dict[str, dict[str, Any]]:
    out = {}
    for dataset in ("ganerated", "synthhands", "stb"):
        out[f"resunet/{dataset}.yaml"] = {
            "name": f"resunet_{dataset}",
            "seed": 0,
            "description": f"ResUnet on {dataset}; no public code: Adam 1e-3 with x0.96 per epoch is our choice",
            # The paper's encoder is an ImageNet-pretrained ResNet-34 (model.weights=none trains from scratch).
            "model": {"name": "resunet", "input_size": 128, "weights": IMAGENET_WEIGHTS["resnet34"]},
            "data": rgb_data(dataset, 32),
            "optim": {"optimizer": "adam", "lr": 1e-3, "schedule": "exponential", "gamma": 0.96},
            "trainer": trainer(60),
        }
    return out


def synthetic_configs() -> dict[str, dict[str, Any]]:
    """Small runs on frames rendered on the fly; each finishes on a laptop CPU."""
    # Depth: right hands, as in the public depth benchmarks (RGB crops mirror left hands instead).
    stream = {"count": 4000, "seed": 1, "val_count": 400, "val_seed": 1001, "camera": "nyu", "hands": "right"}
    depth = {
        "dataset": "synthetic_stream",
        "cube": 250.0,
        "center": "gt",
        "eval_center": "gt",
        "augment": True,
        "batch_size": 32,
        "num_workers": 1,
        "stream": stream,
    }
    cpu = {"max_epochs": 200, "max_minutes": 10.0, "accelerator": "cpu", "log_every_n_steps": 10}
    adam = {"optimizer": "adam", "lr": 1e-3, "schedule": "exponential", "gamma": 0.9}
    return {
        "synthetic/crossinfonet_tiny.yaml": {
            "name": "crossinfonet_tiny",
            "seed": 0,
            "description": "A seconds-long smoke run: a slim CrossInfoNet on 32-pixel crops of 64 streamed frames",
            "model": {
                "name": "crossinfonet",
                "input_size": 32,
                "kwargs": {"width": 0.25, "channels": 32, "fc_dim": 64},
            },
            "data": {**depth, "batch_size": 8, "num_workers": 0, "stream": {**stream, "count": 64, "val_count": 16}},
            "optim": adam,
            "trainer": {"max_epochs": 2, "accelerator": "cpu", "log_every_n_steps": 4, "progress": "none"},
        },
        "synthetic/crossinfonet_cpu.yaml": {
            "name": "crossinfonet_synthetic",
            "seed": 0,
            "description": "CrossInfoNet (full model, 64-pixel crops) on streamed synthetic NYU-camera depth, 10 CPU minutes",
            "model": {"name": "crossinfonet", "input_size": 64},
            "data": depth,
            "optim": adam,
            "trainer": cpu,
        },
        "synthetic/fingerposenet_cpu.yaml": {
            "name": "fingerposenet_synthetic",
            "seed": 0,
            "description": "FingerPoseNet on streamed synthetic NYU-camera depth, 10 CPU minutes",
            "model": {"name": "fingerposenet", "input_size": 64},
            "data": depth,
            "optim": adam,
            "trainer": cpu,
        },
        "synthetic/holistic_resnet18_cpu.yaml": {
            "name": "holistic_resnet18_synthetic",
            "seed": 0,
            "description": "Holistic ResNet-18 regression baseline on streamed synthetic depth, 10 CPU minutes",
            "model": {"name": "holistic_resnet18", "input_size": 64},
            "data": depth,
            "optim": adam,
            "trainer": cpu,
        },
        "synthetic/learnable_groups_k3_cpu.yaml": {
            "name": "learnable_groups_k3_synthetic",
            "seed": 0,
            "description": "Learnable Groups K=3 with a small hourglass on streamed synthetic RGB, 10 CPU minutes",
            "model": {
                "name": "learnable_groups_k3",
                "input_size": 128,
                "kwargs": {"features": 64, "stem_channels": 32, "num_modules": 1},
            },
            "data": {
                "dataset": "synthetic_stream",
                "augment": True,
                "batch_size": 16,
                "num_workers": 1,
                "stream": {**stream, "camera": "256,256,128,128,256,256", "hands": "both"},
            },
            "optim": {
                "optimizer": "adam",
                "lr": 1e-3,
                "schedule": "constant",
                "group_lr": default_group_lr("learnable_groups_k3"),
                "temperature": {"start": 5.0, "step": 0.1, "every": 100, "min": 0.1},
            },
            "trainer": cpu,
        },
    }


def build_grid() -> dict[str, dict[str, Any]]:
    """Every config of the grid, keyed by its path relative to ``configs/``."""
    grid = {
        **crossinfonet_configs(),
        **fingerposenet_configs(),
        **learnable_groups_configs(),
        **dexter_object_configs(),
        **resunet_configs(),
        **synthetic_configs(),
    }
    for config in grid.values():
        if config["data"].get("dataset") == "msra":
            config["description"] += (
                "; one leave-one-subject-out fold (data.subject=K), all nine pooled: handpose folds --config FILE"
            )
    return grid


def write_grid(out_dir: Path) -> int:
    """Write every config of the grid under ``out_dir``; returns how many were written."""
    grid = build_grid()
    for rel, config in grid.items():
        path = out_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        header = f"# {config['description']}\n# Run: handpose train --config configs/{rel} [key=value ...]\n"
        path.write_text(header + yaml.safe_dump(config, sort_keys=False, width=120), encoding="utf-8")
    return len(grid)


def main() -> None:
    parser = argparse.ArgumentParser(description="Write the experiment grid of configs/.")
    # tests/test_configs.py writes into a temporary folder and compares with the committed files.
    parser.add_argument("--out", type=Path, default=HERE, help="folder to write into (default: configs/)")
    args = parser.parse_args()
    count = write_grid(args.out)
    print(f"wrote {count} configs under {args.out}")


if __name__ == "__main__":
    main()
