#!/usr/bin/env bash
# Issue 22: SFT vs SFT + GRPO in closed loop (docs/vla.md), after scripts/vla_sft_seeds.sh. For
# each training seed in $SEEDS (default "0 1 2"): GRPO from outputs/vla/sft-seedS into
# outputs/vla/$ARM-seedS (worldalign vla align with the defaults, plus $GRPO_OPTIONS), then
# `vla eval` of both arms with the token head (free and under the chunk grammar) and the flow
# head on the 10 training tasks x 3 layout seeds. Resumable: rerun it; finished evaluations are
# kept, an interrupted GRPO run continues from its checkpoint.
#   scripts/vla_grpo_ab.sh                        # the table in docs/vla.md (arm "grpo")
#   ARM=grpo-strict GRPO_OPTIONS="--rewards action_accuracy=1,format_strict=1" scripts/vla_grpo_ab.sh
#   HEADS="tokens-constrained flow" ...    # evaluate only these heads
# Table: python benchmarks/vla_sft_vs_grpo.py --root outputs/vla --arms sft,grpo,grpo-strict
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-outputs/vla}
SEEDS=${SEEDS:-"0 1 2"}
ARM=${ARM:-grpo}
HEADS=${HEADS:-"tokens tokens-constrained flow"}
read -r -a EXTRA <<< "${GRPO_OPTIONS:-}"
GRPO=(--updates 100 --lr 1e-4 --rewards action_accuracy=1,format=1 "${EXTRA[@]}")
evaluate() {  # arm seed head
  local run="$OUT/$1-seed$2" out="$OUT/eval-$1-seed$2-$3"
  [ -f "$out/vla_eval.json" ] || .venv/bin/worldalign vla eval "$run" --tasks mt10 --seeds 3 --head "$3" --out "$out"
}
for seed in $SEEDS; do
  [ -f "$OUT/$ARM-seed$seed/model/model.safetensors" ] || .venv/bin/worldalign vla align "$OUT/sft-seed$seed" \
    --dataset "$OUT/data" --out "$OUT/$ARM-seed$seed" --seed "$seed" "${GRPO[@]}"
  for arm in sft "$ARM"; do
    for head in $HEADS; do evaluate "$arm" "$seed" "$head"; done
  done
done
echo "VLA A/B ($ARM) finished"
