#!/usr/bin/env bash
# Issue 22: the SFT baseline of the SFT vs SFT+GRPO table (docs/vla.md): 200 noisy expert
# episodes of the 10 training tasks, a FAST tokenizer fitted on them, and three tiny-backbone SFT
# runs (training seeds 0, 1, 2). Results under $OUT (default outputs/vla). Resumable: rerun it;
# the dataset and each SFT run continue where they stopped.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-outputs/vla}
STEPS=${STEPS:-3000}
.venv/bin/worldalign data generate --tasks mt10 --episodes-per-task 20 --noise 0.2 --seed 3 --workers 1 --out "$OUT"/data
[ -f "$OUT"/fast/fast_config.json ] || .venv/bin/worldalign vla tokenizer fit --dataset "$OUT"/data --out "$OUT"/fast --horizon 10
for seed in 0 1 2; do
  .venv/bin/worldalign vla train --dataset "$OUT"/data --tokenizer "$OUT"/fast --out "$OUT"/sft-seed"$seed" \
    --steps "$STEPS" --batch-size 8 --seed "$seed"
done
echo "SFT seeds finished"
