"""Judge throughput: the teacher (5 MC-dropout passes) versus the distilled student, side by side.

RoboAlign-R1 (arXiv:2605.03821) distils its judge into a student about 10x cheaper so that it can
score every rollout of the RL loop. Both judges here score the same batch of benchmark-shaped
videos (3 views x 16 frames x 64 px, instruction embedding, actions), taking turns so that load
from other processes falls on both alike. Prints videos/s of each and the ratio. Speed does not
depend on the weights, so freshly initialised default models are used unless checkpoints are given.

    python benchmarks/bench_judge.py --batch 16 --repeats 5
    python benchmarks/bench_judge.py --teacher checkpoints/judge-teacher --student checkpoints/judge-student
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from _timing import interleaved_medians

from worldalign.judge_bench.labels import DIMENSION_KEYS, MAX_SCORES
from worldalign.models.checkpoint import load_model
from worldalign.models.judge.configuration_judge import student_config, teacher_config
from worldalign.models.judge.modeling_judge import JudgeStudent, JudgeTeacher

KEYS = DIMENSION_KEYS
VIEWS = ("oblique", "front", "wrist")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teacher", type=Path, default=None, help="teacher checkpoint (default: fresh default model)")
    parser.add_argument("--student", type=Path, default=None, help="student checkpoint (default: fresh default model)")
    parser.add_argument("--batch", type=int, default=16, help="videos per call (default: 16)")
    parser.add_argument("--repeats", type=int, default=5, help="timed rounds (default: 5)")
    args = parser.parse_args()

    torch.manual_seed(0)
    teacher = load_model(JudgeTeacher, args.teacher) if args.teacher else JudgeTeacher(teacher_config(KEYS, MAX_SCORES, VIEWS))
    student = load_model(JudgeStudent, args.student) if args.student else JudgeStudent(student_config(KEYS, MAX_SCORES, VIEWS))
    views = len(teacher.config.views)
    video = torch.rand(args.batch, views, 16, 3, 64, 64) * 2 - 1  # (B, V, T, 3, H, W) in [-1, 1]
    text = torch.randn(args.batch, 384)
    actions = torch.randn(args.batch, 16, 4)
    seconds = interleaved_medians(
        {
            "teacher": lambda: teacher.predict(video, text, actions),
            "student": lambda: student.predict(video, text, actions),
        },
        args.repeats,
    )
    print(f"batch of {args.batch} videos ({views} views x 16 frames x 64 px), {torch.get_num_threads()} threads")
    print(f"teacher ({teacher.config.samples} MC-dropout passes): {args.batch / seconds['teacher']:8.1f} videos/s")
    print(f"student:                            {args.batch / seconds['student']:8.1f} videos/s")
    print(f"student / teacher:                  {seconds['teacher'] / seconds['student']:8.1f}x")


if __name__ == "__main__":
    main()
