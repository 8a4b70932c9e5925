#!/usr/bin/env bash
# Time to score at equal quality: the main job's trained f-AnoGAN of each category, scoring the
# `valid` split by izi (murgan's default for f-AnoGAN), izi + k search steps, and a cold 500-step
# AnoGAN search; prints wall time and the image- and study-level ROC-AUC of each.
#
#   cargo run --release --example reproduce_table -- --out /tmp/rt     # trains the models
#   cargo build --release -p murgan-cli
#   bash benches/equal_quality.sh /tmp/rt HUMERUS FINGER SHOULDER
set -euo pipefail
out=${1:?the --out folder of the main job}; shift
murgan=./target/release/murgan
for cat in "$@"; do
  for spec in "izi 0" "izi-search 10" "izi-search 20" "izi-search 50" "search 500"; do
    read -r method steps <<<"$spec"
    start=$(date +%s.%N)
    json=$("$murgan" evaluate --model "$out/$cat/fanogan" --data "$out/synthetic" \
      --method "$method" --search-steps "$steps" --tolerance 0 --json 2>/dev/null | tail -n 1)
    end=$(date +%s.%N)
    python3 -c '
import json, sys
cat, method, steps, start, end, js = sys.argv[1:]
s = json.loads(js)["score"]
im, st = s["image"]["ALL"], s["study"]["ALL"]
auc, lo, hi, study = im["auc"], im["auc_ci_low"], im["auc_ci_high"], st["auc"]
normal, abnormal, secs = im["n_normal"], im["n_abnormal"], float(end) - float(start)
print(f"{cat} {method} {steps}: {secs:.2f} s, image AUC {auc:.3f} ({lo:.2f}-{hi:.2f}), "
      f"study AUC {study:.3f}, {normal} normal / {abnormal} abnormal images")
' "$cat" "$method" "$steps" "$start" "$end" "$json"
  done
done
