#!/usr/bin/env bash
# Issue 21 item 4: RoboAlign-R1's recipe (Flow-GRPO on instruction prompts, the shipped distilled
# judge as the reward, the shipped teacher relabelling every 25 updates and scoring held-out
# rollouts) against an LPIPS-only reward on the same budget, from the GPU-continued world model.
# Seed 0 of both arms first (the recipe is judged on one seed before three are spent), then seeds
# 1 and 2. Results under $OUT (default outputs/reproduce). Resumable: rerun it; finished seeds are
# read back, interrupted ones continue from their checkpoints.
#   bash scripts/roboalign_r1.sh [SEEDS...]   (default: 0 1 2)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-outputs/reproduce}
DATA=${DATA:-outputs/data/mt10-48}
BIN=${BIN:-.venv/bin}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
step() { echo "== $(date -u +%H:%M:%S) $*"; }
if [ ! -f "$DATA/meta/info.json" ]; then
  step "data generate $DATA"
  "$BIN/worldalign" data generate --tasks mt10 --episodes-per-task 48 --noise 0.2 --seed 1 --workers 2 --out "$DATA"
fi
COMMON=(--world-model ../shared/checkpoints/world-model-cpu-gpu-continued --autoencoder checkpoints/autoencoder-cpu
        --dataset "$DATA" --max-train-episodes 80 --eval-episodes 10 --eval-seeds 2 --checkpoint-every 5)
SEEDS=("${@:-0 1 2}")
for seed in ${SEEDS[*]}; do
  step "roboalign-r1 judge arm, seed $seed"
  "$BIN/worldalign" reproduce roboalign-r1 "${COMMON[@]}" --seeds "$seed" --out "$OUT"/r1-judge
  step "roboalign-r1 LPIPS-only arm, seed $seed"
  "$BIN/worldalign" reproduce roboalign-r1 "${COMMON[@]}" --seeds "$seed" --out "$OUT"/r1-lpips \
    --rewards fidelity=1.0 --fidelity-metrics lpips=1
done
step "done"
