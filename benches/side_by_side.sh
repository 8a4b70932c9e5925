#!/usr/bin/env bash
# Side-by-side throughput of murgan and the PyTorch peer, alternating, several rounds, medians.
#
#   PYTHON=/path/to/torch-venv/bin/python PEER=../shared/peer/anogan_torch.py \
#     bash benches/side_by_side.sh train "--batch 64 --iterations 5" 3
#   PYTHON=... PEER=benches/squid_torch.py bash benches/side_by_side.sh squid-train "--batch 32" 5
#
# Arguments: mode (latent, izi, train with anogan_torch.py; squid-train, squid-score with
# benches/squid_torch.py), the options both programs take, rounds (default 3).
set -euo pipefail
mode=${1:?mode}; opts=${2:-"--batch 64 --iterations 5"}; rounds=${3:-3}
: "${PYTHON:?set PYTHON to a python with torch}"; : "${PEER:?set PEER to anogan_torch.py}"
cargo build --release --example throughput >/dev/null
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for r in $(seq "$rounds"); do
  ./target/release/examples/throughput --mode "$mode" $opts --json | tail -n 1 >> "$out/murgan.jsonl"
  "$PYTHON" "$PEER" "$mode" $opts --threads "$(nproc)" | tail -n 1 >> "$out/torch.jsonl"
done
python3 - "$out" "$mode" <<'PY'
import json, statistics, sys
out, mode = sys.argv[1], sys.argv[2]
key = {"train": "step_s", "izi": "img_per_s", "latent": "img_iter_per_s",
       "squid-train": "step_s", "squid-score": "img_per_s"}[mode]
res = {}
for impl in ("murgan", "torch"):
    rows = [json.loads(l) for l in open(f"{out}/{impl}.jsonl")]
    res[impl] = statistics.median(r[key] for r in rows)
    print(f"{impl}: median {key} = {res[impl]:.4g} over {len(rows)} rounds ({rows[0].get('impl')})")
ratio = res["torch"] / res["murgan"] if key == "step_s" else res["murgan"] / res["torch"]
print(f"murgan speed / PyTorch speed = {ratio:.2f}")
PY
