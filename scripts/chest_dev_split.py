#!/usr/bin/env python3
"""Builds a development layout of the paediatric chest set for design choices.

The published protocol trains on `train`'s normals and reports on `test`. Design choices
(preset settings, a model's main score) must not look at `test`, so this carves a labelled
validation split out of `train`, patient-disjoint, by copying the files (murgan does not
follow symbolic links when it walks a data set):

    OUT/train/NORMAL     train normals not held out
    OUT/valid/NORMAL     held-out train normals (whole patients)
    OUT/valid/PNEUMONIA  a seeded sample of train pneumonia images (whole patients)

`test` is deliberately not linked. Usage: chest_dev_split.py DATASET OUT [--seed S]
"""
import argparse
import os
import random
import re
import shutil
from collections import defaultdict


def patient(name: str) -> str:
    # Normals: IM-0115-0001.jpeg, NORMAL2-IM-1427-0001.jpeg; pneumonia: person1000_bacteria_2931.jpeg
    m = re.match(r"(person\d+)_", name)
    if m:
        return m.group(1)
    return name.rsplit("-", 1)[0]


def groups(folder: str) -> dict:
    out = defaultdict(list)
    for f in sorted(os.listdir(folder)):
        if f.lower().endswith((".jpeg", ".jpg", ".png")):
            out[patient(f)].append(f)
    return out


def link(src_dir: str, names, dst_dir: str) -> int:
    os.makedirs(dst_dir, exist_ok=True)
    for n in names:
        shutil.copyfile(os.path.join(src_dir, n), os.path.join(dst_dir, n))
    return len(names)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("dataset")
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--valid-normal", type=float, default=0.15, help="fraction of normal patients held out")
    ap.add_argument("--valid-pneumonia", type=int, default=400, help="pneumonia images (whole patients)")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    normal_dir = os.path.join(a.dataset, "train", "NORMAL")
    pneu_dir = os.path.join(a.dataset, "train", "PNEUMONIA")
    normals = groups(normal_dir)
    keys = sorted(normals)
    rng.shuffle(keys)
    cut = int(round(len(keys) * a.valid_normal))
    held, kept = keys[:cut], keys[cut:]
    n_train = link(normal_dir, [f for k in sorted(kept) for f in normals[k]], os.path.join(a.out, "train", "NORMAL"))
    n_vn = link(normal_dir, [f for k in sorted(held) for f in normals[k]], os.path.join(a.out, "valid", "NORMAL"))
    pneu = groups(pneu_dir)
    pkeys = sorted(pneu)
    rng.shuffle(pkeys)
    chosen = []
    for k in pkeys:
        if len(chosen) >= a.valid_pneumonia:
            break
        chosen.extend(pneu[k])
    n_vp = link(pneu_dir, sorted(chosen), os.path.join(a.out, "valid", "PNEUMONIA"))
    print(f"train/NORMAL {n_train}, valid/NORMAL {n_vn}, valid/PNEUMONIA {n_vp} (seed {a.seed})")


if __name__ == "__main__":
    main()
