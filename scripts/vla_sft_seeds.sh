#!/usr/bin/env bash
# Issue 22: the SFT baseline of the SFT vs SFT+GRPO table (docs/vla.md): 200 noisy expert
# episodes of the 10 training tasks, a FAST tokenizer fitted on them, and three tiny-backbone SFT
# runs (training seeds 0, 1, 2) in $OUT/$ARM-seedS. Results under $OUT (default outputs/vla).
# Resumable: rerun it; the dataset and each SFT run continue where they stopped.
#   scripts/vla_sft_seeds.sh                                   # arm "sft", the baseline
#   ARM=vit SFT_OPTIONS="--vision vit" HEADS="tokens-constrained flow" scripts/vla_sft_seeds.sh
# $HEADS (default none) evaluates each run with `vla eval` on the 10 training tasks x 3 layout
# seeds into $OUT/eval-$ARM-seedS-HEAD, as scripts/vla_grpo_ab.sh does; the table:
#   python benchmarks/vla_sft_vs_grpo.py --root outputs/vla --arms sft,vit
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-outputs/vla}
STEPS=${STEPS:-3000}
ARM=${ARM:-sft}
SEEDS=${SEEDS:-"0 1 2"}
HEADS=${HEADS:-}
read -r -a EXTRA <<< "${SFT_OPTIONS:-}"
.venv/bin/worldalign data generate --tasks mt10 --episodes-per-task 20 --noise 0.2 --seed 3 --workers 1 --out "$OUT"/data
[ -f "$OUT"/fast/fast_config.json ] || .venv/bin/worldalign vla tokenizer fit --dataset "$OUT"/data --out "$OUT"/fast --horizon 10
for seed in $SEEDS; do
  run="$OUT/$ARM-seed$seed"
  .venv/bin/worldalign vla train --dataset "$OUT"/data --tokenizer "$OUT"/fast --out "$run" \
    --steps "$STEPS" --batch-size 8 --seed "$seed" "${EXTRA[@]}"
  for head in $HEADS; do
    out="$OUT/eval-$ARM-seed$seed-$head"
    [ -f "$out/vla_eval.json" ] || .venv/bin/worldalign vla eval "$run" --tasks mt10 --seeds 3 --head "$head" --out "$out"
  done
done
echo "SFT seeds ($ARM) finished"
