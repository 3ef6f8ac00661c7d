#!/usr/bin/env bash
# The shipped judges (checkpoints/judge-teacher-cpu, checkpoints/judge-student-cpu) from scratch,
# with the commands' default recipe (docs/benchmarks.md, "Judge"): a labelled benchmark of the 10
# training tasks and 8 held-out tasks, the teacher, the distilled student, their evaluation on the
# test and held-out-task splits, then both exported as float16. About 2 hours on 2 cores
# (115 min on 2026-12-07 beside other runs: build 26, teacher 67, student 17, evaluation 4).
# Each step is skipped when its output exists, so an interrupted run continues: rerun it.
#   bash scripts/ship_judge.sh [RUN_FOLDER]   (default outputs/judge)
set -euo pipefail
RUN=${1:-outputs/judge}
BIN=${BIN:-.venv/bin}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
mkdir -p "$RUN"
step() { echo "== $(date -u +%H:%M:%S) $*"; }
if [ ! -f "$RUN/bench/.complete" ]; then
  step "judge-bench build"
  "$BIN/worldalign" judge-bench build --out "$RUN/bench" --seed 0 --items-per-source 60 --workers 2
  touch "$RUN/bench/.complete"
fi
if [ ! -f "$RUN/teacher/model/model.safetensors" ]; then
  step "train judge (teacher)"
  "$BIN/worldalign" train judge --bench "$RUN/bench" --out "$RUN/teacher"
fi
if [ ! -f "$RUN/student/model/model.safetensors" ]; then
  step "distill (student)"
  "$BIN/worldalign" distill --teacher "$RUN/teacher" --bench "$RUN/bench" --out "$RUN/student"
fi
step "judge evaluate"
"$BIN/worldalign" judge evaluate --bench "$RUN/bench" --teacher "$RUN/teacher" --student "$RUN/student" --out "$RUN/report"
step "export"
"$BIN/worldalign" export "$RUN/teacher" checkpoints/judge-teacher-cpu --half
"$BIN/worldalign" export "$RUN/student" checkpoints/judge-student-cpu --half
step "done"
