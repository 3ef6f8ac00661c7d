#!/usr/bin/env bash
# Issue 22, RoboAlign's VLA stage (docs/vla.md): a new flow action head on each backbone, trained
# the same way (same seed: same initial head, same batches), then closed-loop success with it.
# After scripts/vla_sft_seeds.sh and scripts/vla_grpo_ab.sh. For each training seed in $SEEDS and
# each run prefix in $ARMS: `vla train-head outputs/vla/ARM-seedS` into outputs/vla/head-ARM-seedS
# ($HEAD_OPTIONS added), then `vla eval --head flow` on the 10 training tasks x 3 layout seeds.
# Resumable: rerun it; finished runs and evaluations are kept.
#   ARMS="sft grpo-distance" scripts/vla_head_ab.sh
#   PREFIX=probe HEAD_OPTIONS="--freeze-backbone" scripts/vla_head_ab.sh   # the head alone
# Table: python benchmarks/vla_sft_vs_grpo.py --root outputs/vla --arms head-sft,head-grpo-distance
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-outputs/vla}
SEEDS=${SEEDS:-"0 1 2"}
ARMS=${ARMS:-"sft grpo-distance"}
PREFIX=${PREFIX:-head}
read -r -a EXTRA <<< "${HEAD_OPTIONS:-}"
for seed in $SEEDS; do
  for arm in $ARMS; do
    run="$OUT/$PREFIX-$arm-seed$seed" eval="$OUT/eval-$PREFIX-$arm-seed$seed-flow"
    [ -f "$run/model/model.safetensors" ] || .venv/bin/worldalign vla train-head "$OUT/$arm-seed$seed" \
      --dataset "$OUT/data" --out "$run" --seed "$seed" --steps 2000 "${EXTRA[@]}"
    [ -f "$eval/vla_eval.json" ] || .venv/bin/worldalign vla eval "$run" --tasks mt10 --seeds 3 --head flow --out "$eval"
  done
done
echo "VLA head A/B ($ARMS, $PREFIX) finished"
