"""Continual-training experiments on the demo model (EXPERIMENTS.md): train a variant on reviewed
crescents (then hearts), measure per-concept ATD AUROC on models/demo-heldout and ID accuracy.

PYTHONPATH=training:training/experiments training/.venv/bin/python training/experiments/run.py VARIANT [--seeds 0,1,2]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from clipn_kernel.demo.world import ID_SHAPES, OOD_SHAPES
from clipn_kernel.evaluate import BundleRunner
from clipn_kernel.metrics import auroc
from clipn_kernel.scoring import build_heads, score
from clipn_kernel.train_prompts import add_parser as _unused  # noqa: F401  (keeps the import path honest)
from clipn_kernel.train_prompts import fit

from data import BUNDLE, CACHE, TEMPLATES, heldout_embeddings, rendered, split_of

HELD_OUT_SHARE = 0.3
LABEL_SET = CACHE / "label-set.json"
CACHE.mkdir(parents=True, exist_ok=True)
LABEL_SET.write_text(json.dumps({"labels": list(ID_SHAPES), "templates": list(TEMPLATES)}))


def sample_rows(concept: str, seed_id: int, seed_ood: int, runner: BundleRunner, tag: str, id_per_class: int = 10, n_ood: int = 60) -> list[dict[str, Any]]:
    """What the trainer writes for one review round: 10 captioned ID images a class, 60 of `concept`
    (new_concept -> "a <concept>"), the held-out share left out (by the trainer's hash)."""
    rows = []
    ids = rendered(runner, ID_SHAPES, id_per_class, seed_id)
    k = 0
    for shape in ID_SHAPES:
        for e in ids[shape]:
            rows.append({"id": f"{tag}-{shape}-{k}", "embedding": e.tolist(), "text": TEMPLATES[k % len(TEMPLATES)].format(shape), "group": shape, "kind": "id"})
            k += 1
    for i, e in enumerate(rendered(runner, (concept,), n_ood, seed_ood)[concept]):
        rows.append({"id": f"{tag}-{concept}-{i}", "embedding": e.tolist(), "text": f"a {concept}", "group": concept, "kind": "ood"})
    return [r for r in rows if split_of(r["id"], HELD_OUT_SHARE) == "train"]


def measure(model: torch.nn.Module, held: dict[str, np.ndarray]) -> dict[str, float]:
    w_yes, w_no = build_heads(model, list(ID_SHAPES), list(TEMPLATES))
    s_id = score(torch.from_numpy(held["id"]), w_yes, w_no)
    out = {"idAccuracy": float((s_id.index.numpy() == held["id_truth"]).mean())}
    for c in OOD_SHAPES:
        s = score(torch.from_numpy(held[c]), w_yes, w_no)
        out[c] = auroc(s_id.atd_log_odds.numpy(), s.atd_log_odds.numpy())
    return out


def namespace(samples: Path, out: Path, **kw: Any) -> argparse.Namespace:
    """fit() arguments: the kernel's defaults, the demo label set, and `kw` (kernel flag names with
    underscores; older experiment names keep_distill / keep_l2 map to --distill / --l2)."""
    renames = {"keep_distill": "distill", "keep_l2": "l2"}
    base = dict(bundle=str(BUNDLE), samples=str(samples), out=str(out), checkpoint=None, mode="prompts", init_prompt_set=None, init_no_tower=None,
                epochs=30, lr=1e-3, batch=64, weight_decay=0.0, seed=0, device="cpu", log_json=False, balance=True, label_set=str(LABEL_SET),
                clipn_weight=1.0, served_weight=0.0, distill=0.0, distill_on="logits", l2=0.0, lora_rank=0)
    for k, v in kw.items():
        k = renames.get(k, k)
        base[k if k in base else f"keep_{k}"] = v
    return argparse.Namespace(**base)


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("name")
    p.add_argument("--kw", default="{}", help="fit() arguments as JSON (mode, epochs, lr, ...)")
    p.add_argument("--seeds", default="0")
    p.add_argument("--second", action="store_true", help="then a second run on hearts, from the first run's model")
    p.add_argument("--id-per-class", type=int, default=10, help="reviewed ID images per class in each round")
    p.add_argument("--draws", default="0", help="training-image draws (render seeds offset by 1000 x draw)")
    a = p.parse_args()
    torch.set_num_threads(2)
    runner = BundleRunner(BUNDLE)
    held = heldout_embeddings(runner)
    from clipn_kernel.checkpoint import load_clipn_checkpoint
    from clipn_kernel.model import parse_model_config

    manifest = json.loads((BUNDLE / "manifest.json").read_text())
    cfg = parse_model_config(manifest["architecture"]["config"], name="demo")
    base = measure(load_clipn_checkpoint(BUNDLE / "checkpoint.pt", cfg), held)
    print("base", json.dumps({k: round(v, 4) for k, v in base.items()}))
    kw = json.loads(a.kw)
    results = []
    for seed, draw in [(int(s), int(d)) for d in a.draws.split(",") for s in a.seeds.split(",")]:
        o = 1000 * draw
        with tempfile.TemporaryDirectory() as tmp:
            rows = sample_rows("crescent", 101 + o, 102 + o, runner, "r1", a.id_per_class)
            f = Path(tmp) / "s1.jsonl"
            f.write_text("".join(json.dumps(r) + "\n" for r in rows))
            t0 = time.perf_counter()
            done = fit(namespace(f, Path(tmp) / "o1", seed=seed, **kw))
            m1 = measure(done.model, held)
            row = {"seed": seed, "draw": draw, "run1": m1, "s1": round(time.perf_counter() - t0, 1)}
            if a.second:
                rows2 = rows + sample_rows("heart", 105 + o, 103 + o, runner, "r2", a.id_per_class)
                f2 = Path(tmp) / "s2.jsonl"
                f2.write_text("".join(json.dumps(r) + "\n" for r in rows2))
                kw2 = dict(kw)
                if kw.get("mode") == "no-tower":
                    from clipn_kernel.checkpoint import save_no_tower

                    save_no_tower(done.model, Path(tmp) / "nt1.pt")
                    kw2["init_no_tower"] = str(Path(tmp) / "nt1.pt")
                else:
                    from clipn_kernel.train.outputs import write_f32

                    write_f32(Path(tmp) / "p1.bin", done.model.prompt_no)
                    kw2["init_prompt_set"] = str(Path(tmp) / "p1.bin")
                done2 = fit(namespace(f2, Path(tmp) / "o2", seed=seed, **kw2))
                row["run2"] = measure(done2.model, held)
            results.append(row)
            d = lambda m: " ".join(f"{k} {m[k]:.4f} ({m[k]-base[k]:+.4f})" for k in ("crescent", "arrow", "heart", "idAccuracy"))  # noqa: E731
            print(f"{a.name} seed {seed} draw {draw} run1: {d(m1)} [{row['s1']} s]" + (f"\n{a.name} seed {seed} draw {draw} run2: {d(row['run2'])}" if a.second else ""), flush=True)
    with open(CACHE / "log.jsonl", "a") as log:
        log.write(json.dumps({"name": a.name, "kw": kw, "argv": sys.argv[1:], "base": base, "results": results}) + "\n")
    for run in ("run1", "run2") if a.second else ("run1",):
        ch = {k: np.array([r[run][k] - base[k] for r in results]) for k in base}
        print(f"SUMMARY {a.name} {run} n={len(results)}: " + " ".join(f"{k} {ch[k].mean():+.4f} [{ch[k].min():+.4f},{ch[k].max():+.4f}]" for k in ("crescent", "arrow", "heart", "idAccuracy")), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
