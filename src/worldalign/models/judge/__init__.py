"""The six-dimension judge of RoboAlign-R1 (arXiv:2605.03821): a teacher and a distilled student.

- ``bench_data``: reads the benchmark folder that ``worldalign judge-bench build`` writes.
- ``video_input``: checks and prepares videos (frames + temporal differences, resampling).
- ``teacher``: ``JudgeTeacher``, a video transformer over all views and frames, instruction and
  actions, averaged over stochastic (MC-dropout) passes as the paper averages judge samples.
- ``student``: ``JudgeStudent``, a tiny frame encoder on a few small frames + instruction +
  a linear head: the reward model that sits inside the RL loop.
- ``ranking``: Spearman correlation and pairwise ranking accuracy.
"""
