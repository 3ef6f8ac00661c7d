#!/usr/bin/env bash
# Issue 21: the A/B of the PersistWorld recipe's reward, fidelity alone vs fidelity + motion_match
# (docs/benchmarks.md, "the fidelity reward pays for stillness"), 3 training seeds each,
# interleaved so that partial results stay balanced. Results under $OUT (default
# outputs/reproduce). Resumable: rerun it; finished seeds are read back, interrupted ones
# continue from their checkpoints.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-outputs/reproduce}
COMMON=(--world-model ../shared/checkpoints/world-model-cpu-gpu-continued --autoencoder checkpoints/autoencoder-cpu
        --dataset outputs/data/mt10-48 --max-train-episodes 80 --iterations 50 --eval-every 25
        --eval-episodes 10 --eval-horizon 24 --eval-seeds 2 --checkpoint-every 5)
for seed in 0 1 2; do
  .venv/bin/worldalign reproduce persistworld "${COMMON[@]}" --seeds "$seed" --out "$OUT"/fidelity
  .venv/bin/worldalign reproduce persistworld "${COMMON[@]}" --seeds "$seed" --out "$OUT"/fidelity-motion \
    --rewards fidelity=1.0,motion_match=1.0
done
.venv/bin/worldalign reproduce persistworld "${COMMON[@]}" --seeds 0,1,2 --out "$OUT"/fidelity
.venv/bin/worldalign reproduce persistworld "${COMMON[@]}" --seeds 0,1,2 --out "$OUT"/fidelity-motion \
  --rewards fidelity=1.0,motion_match=1.0
echo "A/B finished"
