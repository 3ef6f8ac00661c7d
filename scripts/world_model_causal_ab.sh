#!/usr/bin/env bash
# Issue 20 item 4 (docs/benchmarks.md, "A causal context"): what does a causal context cost in
# quality? The GPU-continued world model fine-tuned on CPU twice, the same data, steps, batches
# and seed: with full attention, and into a causal-context model (train world-model
# --causal-context). One arm per core, in the background; resumable: rerun it after a restart and
# each arm continues from its newest checkpoint (a finished one has nothing left to do). A step
# of the cpu preset takes ~6-7 s on one core: 4000 steps are ~7 h per arm, several sessions.
#   scripts/world_model_causal_ab.sh            # both arms (DATA: a `data generate` dataset)
#   ARMS=causal STEPS=8000 scripts/world_model_causal_ab.sh
# Evaluate each arm's model/ with benchmarks/eval_world_model.py on the held-out episodes; the
# flow loss of fixed training and held-out clips is logged every 500 steps (probe/*).
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-outputs/data/mt10-48}
BASE=${BASE:-../shared/checkpoints/world-model-cpu-gpu-continued}
OUT=${OUT:-outputs/wm}
STEPS=${STEPS:-4000}
ARMS=${ARMS:-"full causal"}
mkdir -p "$OUT"
for arm in $ARMS; do
  flags=()
  [ "$arm" = causal ] && flags=(--causal-context)
  [ "$arm" = full ] || [ "$arm" = causal ] || { echo "unknown arm $arm (full, causal)" >&2; exit 2; }
  OMP_NUM_THREADS=1 nohup nice .venv/bin/worldalign train world-model --preset cpu --dataset "$DATA" \
    --autoencoder checkpoints/autoencoder-cpu --condition both --init-from "$BASE" --steps "$STEPS" \
    --checkpoint-every 50 --probe-every 500 --preview-every 0 --seed 0 "${flags[@]}" --out "$OUT/ft-$arm" \
    > "$OUT/ft-$arm.log" 2>&1 &
  echo "arm $arm: training in the background, log $OUT/ft-$arm.log"
done
