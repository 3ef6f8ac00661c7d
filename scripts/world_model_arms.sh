#!/usr/bin/env bash
# Issue 20, items 3-4 (docs/benchmarks.md, "A causal context" and "Action displacement"): the
# GPU-continued world model fine-tuned on CPU with the same data, steps, batches and seed, in
# arms that differ in one switch: `full` (as it is: the control), `causal` (fine-tuned into a
# causal-context model, --causal-context) and `displacement` (gains --action-displacement). One
# arm per core, in the background; resumable: rerun it after a restart and each arm continues
# from its newest checkpoint (a finished one has nothing left to do). A step of the cpu preset
# takes ~4-7 s on one core: 4000 steps are 5-7 h per arm, several sessions.
#   scripts/world_model_arms.sh                       # full and causal (DATA: a `data generate` dataset)
#   ARMS=displacement STEPS=8000 scripts/world_model_arms.sh
#   ARMS=full LR=3e-5 OUT=outputs/wm-lr3e-5 scripts/world_model_arms.sh   # a lower peak learning rate
# Evaluate each arm's model/ with benchmarks/eval_world_model.py on the held-out episodes; the
# flow loss of fixed training and held-out clips is logged every 500 steps (probe/*).
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-outputs/data/mt10-48}
BASE=${BASE:-../shared/checkpoints/world-model-cpu-gpu-continued}
OUT=${OUT:-outputs/wm}
STEPS=${STEPS:-4000}
ARMS=${ARMS:-"full causal"}
LR=${LR:-}
mkdir -p "$OUT"
for arm in $ARMS; do
  case "$arm" in
    full) flags=() ;;
    causal) flags=(--causal-context) ;;
    displacement) flags=(--action-displacement) ;;
    *) echo "unknown arm $arm (full, causal, displacement)" >&2; exit 2 ;;
  esac
  [ -n "$LR" ] && flags+=(--lr "$LR")
  OMP_NUM_THREADS=1 nohup nice .venv/bin/worldalign train world-model --preset cpu --dataset "$DATA" \
    --autoencoder checkpoints/autoencoder-cpu --condition both --init-from "$BASE" --steps "$STEPS" \
    --checkpoint-every 50 --probe-every 500 --preview-every 0 --seed 0 "${flags[@]}" --out "$OUT/ft-$arm" \
    > "$OUT/ft-$arm.log" 2>&1 &
  echo "arm $arm: training in the background, log $OUT/ft-$arm.log"
done
