"""The alignment stage: a pretrained world model, its autoencoder and a dataset in; an aligned
model, a before/after summary and before/after videos out.

``prepare_alignment`` loads and checks everything (nothing is written while an argument can
still be wrong), ``run_alignment`` copies the world model's side files into the run, runs
``algos.align.align`` with a held-out evaluation (``eval.alignment.HeldOutRollouts``) and writes
``OUT/before_after.json`` and one video per evaluated episode (real, pretrained and aligned rows,
one column per view; the summary lists them under ``videos``, relative to OUT).
``align_world_model`` does both. OUT can then be used as a world model by every other stage.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch

from worldalign.algos.align import AlignResult, align
from worldalign.algos.conditions import EpisodePool, PromptConditions, RolloutStateConditions
from worldalign.configs.align import AlignConfig
from worldalign.data.clips import split_episodes, spread_evenly
from worldalign.data.lerobot_reader import LeRobotDataset
from worldalign.data.pixels import to_uint8_video
from worldalign.data.selection import check_image_size
from worldalign.data.stats import Normalizer
from worldalign.data.types import Rollout
from worldalign.errors import ConfigError
from worldalign.eval.alignment import HeldOutRollouts
from worldalign.models.autoencoder import Autoencoder
from worldalign.models.text.instruction_encoder import InstructionEncoder
from worldalign.models.world_model import WorldModel
from worldalign.rewards.compose import RewardComposer
from worldalign.rewards.episode_rollouts import episode_rollout, stack_rollouts
from worldalign.rewards.judge import check_clip_length
from worldalign.rewards.registry import build_rewards
from worldalign.runs.layout import ALIGN_LOG_FILE
from worldalign.runs.loading import load_autoencoder, load_world_model_run
from worldalign.runs.side_files import copy_side_files, instruction_cache_file
from worldalign.sampling.context_policies import ContextPolicy, check_policy, context_policy_by_short_name
from worldalign.utils.atomic import atomic_write_json, make_folder
from worldalign.viz.video_grid import compose_grid, viewing_scale, write_video

SUMMARY_FILE = "before_after.json"
VIDEOS_DIR = "videos"
DEFAULT_REWARDS = {"rollout-states": "fidelity=1.0", "prompts": "executability=1.0"}
RELABEL_ANCHOR_CLIPS = 32
"""Real clips the judge relabel pool starts with (``JudgeRelabelHook.anchor``)."""


@dataclass(frozen=True)
class AlignSetup:
    """What an alignment run reads and where it writes; the algorithm is ``AlignConfig``'s."""

    world_model: Path
    """The pretrained world model: a run folder, its ``model/`` or an exported folder."""
    autoencoder: Path
    """Its autoencoder (run folder or model folder)."""
    dataset: Path
    """The dataset its conditions and held-out episodes come from (the world model's views)."""
    out: Path
    """The run folder; the same setup resumes from its newest checkpoint."""
    conditions: Literal["rollout-states", "prompts"] = "rollout-states"
    """PersistWorld's rollout states (actions) or instruction prompts (observation + instruction)."""
    rewards: str | None = None
    """Optimised rewards as ``name=weight`` pairs (default: ``DEFAULT_REWARDS[conditions]``)."""
    eval_rewards: str = "fidelity=1.0,executability=0.0"
    """Held-out evaluation rewards: every term is reported, optimised or not."""
    reward_options: dict[str, Any] = field(default_factory=dict)
    """Options of the reward factories, e.g. ``idm``, ``judge_checkpoint``, ``metric_weights``."""
    eval_reward_options: dict[str, Any] | None = None
    """Options of the held-out evaluation's reward factories (default: ``reward_options``).
    ``reproduce`` sets them apart, so that an arm changing how its optimised reward is computed
    is judged by the same held-out yardstick as the others."""
    teacher: Path | None = None
    """Teacher judge refreshing the judge reward's student every ``AlignConfig.relabel_every``."""
    context_frames: int = 2
    """Real start frames of every condition and evaluation rollout."""
    horizon: int = 8
    """Prompts: frames per candidate."""
    max_prefix_chunks: int = 3
    """Rollout states: the model's own prefix is 0..N chunks."""
    max_continuation_chunks: int = 2
    """Rollout states: each candidate continues 1..N chunks."""
    policy: str = "swr"
    """Context policy: full-history, fixed-window or swr (``sampling.context_policies``)."""
    window: int | None = None
    """Context window of fixed-window / swr (default: the policy's)."""
    held_out: float = 0.1
    """Held-out fraction of each task's episodes (the world model's split)."""
    eval_episodes: int = 8
    """Held-out episodes evaluated."""
    eval_horizon: int = 24
    """Frames per evaluation rollout."""
    eval_seeds: int = 2
    """Sampling seeds per evaluation."""
    eval_sampling_steps: int = 10
    """Euler steps of the held-out rollouts, whatever the candidates are sampled with
    (``AlignConfig.sampling_steps``): arms with other training samplers are evaluated alike."""
    max_train_episodes: int | None = None
    """Cap on the training episodes loaded (spread evenly), default all."""
    videos: int = 4
    """Held-out episodes drawn as before/after videos."""
    resume: bool = True
    """Continue from the newest checkpoint in ``out``."""


@dataclass
class AlignmentJob:
    """A checked alignment run, ready to start: every model, pool and reward loaded."""

    setup: AlignSetup
    config: AlignConfig
    accelerator: Any
    model: WorldModel
    model_dir: Path
    autoencoder: Autoencoder
    policy: ContextPolicy
    conditions: PromptConditions | RolloutStateConditions
    rewards: RewardComposer
    reward_spec: str
    relabel: Any
    eval_rewards: RewardComposer
    dataset: LeRobotDataset
    views: tuple[str, ...]
    normalizer: Normalizer | None
    eval_episodes: list[int]

    @property
    def is_main_process(self) -> bool:
        return bool(self.accelerator.is_main_process)

    def describe(self) -> str:
        """One line saying what the run does."""
        return (
            f"align: {self.config.algorithm} on {self.setup.conditions}, rewards {self.reward_spec}; "
            f"{len(self.conditions.pool.episodes)} training and {len(self.eval_episodes)} held-out "
            f"episodes; {self.accelerator.num_processes} process(es) on {self.accelerator.device}"
        )


@dataclass
class AlignmentReport:
    """What an alignment run produced."""

    result: AlignResult
    summary: dict[str, Any]
    videos: list[Path]


def prepare_alignment(setup: AlignSetup, config: AlignConfig, accelerator: Any = None) -> AlignmentJob:
    """Load and check everything ``setup`` names; writes nothing."""
    from accelerate import Accelerator

    if setup.conditions not in DEFAULT_REWARDS:
        raise ConfigError(f"conditions {setup.conditions!r}: choose one of {', '.join(DEFAULT_REWARDS)}")
    if setup.eval_sampling_steps < 1:
        raise ConfigError(f"--eval-sampling-steps {setup.eval_sampling_steps}: expected >= 1")
    accelerator = accelerator or Accelerator(cpu=not torch.cuda.is_available())
    device = accelerator.device
    world_model = load_world_model_run(setup.world_model, device)
    model = world_model.model
    autoencoder = load_autoencoder(setup.autoencoder, device)
    dataset = LeRobotDataset(setup.dataset)
    views = model_views(dataset, model.config.num_views, setup.world_model)
    check_image_size(dataset, views, autoencoder.config.image_size, "the autoencoder")
    train, held_out = split_episodes(dataset.task_names, held_out_fraction=setup.held_out)
    if not held_out:
        raise ConfigError(f"--held-out {setup.held_out} leaves no held-out episode of {setup.dataset} to evaluate on")
    eval_episodes = spread_evenly(held_out, setup.eval_episodes)
    span = setup.context_frames + setup.eval_horizon
    short = [index for index in eval_episodes if dataset.episode_lengths[index] < span]
    if short:
        raise ConfigError(
            f"held-out episodes {short} have fewer than {span} frames (context {setup.context_frames} + "
            f"horizon {setup.eval_horizon}); lower the evaluation horizon"
        )
    pool = episode_pool(dataset, spread_evenly(train, setup.max_train_episodes), views, world_model.normalizer)
    policy = context_policy_by_short_name(setup.policy, frames=setup.window)
    limit = model.config.max_context_frames
    check_policy(policy.resolved(limit), limit, model.config.future_frames)
    conditions: PromptConditions | RolloutStateConditions
    if setup.conditions == "prompts":
        conditions = PromptConditions(pool, setup.context_frames, setup.horizon, policy)
    else:
        conditions = RolloutStateConditions(
            pool, setup.context_frames, setup.max_prefix_chunks, setup.max_continuation_chunks, policy
        )
    reward_spec = setup.rewards or DEFAULT_REWARDS[setup.conditions]
    rewards = build_rewards(reward_spec, **setup.reward_options, device=device)
    relabel = _relabel_hook(setup, config, rewards, device, pool)
    eval_options = setup.reward_options if setup.eval_reward_options is None else setup.eval_reward_options
    return AlignmentJob(
        setup=setup,
        config=config,
        accelerator=accelerator,
        model=model,
        model_dir=world_model.model_dir,
        autoencoder=autoencoder,
        policy=policy,
        conditions=conditions,
        rewards=rewards,
        reward_spec=reward_spec,
        relabel=relabel,
        eval_rewards=build_rewards(setup.eval_rewards, **eval_options, device=device),
        dataset=dataset,
        views=views,
        normalizer=world_model.normalizer,
        eval_episodes=eval_episodes,
    )


def run_alignment(job: AlignmentJob) -> AlignmentReport | None:
    """Run a prepared alignment; the report on the main process, None on the others."""
    setup = job.setup
    if job.is_main_process:
        make_folder(setup.out)
        # The run's own copy of the embedding cache: new instructions never write into the source run.
        copy_side_files(job.model_dir, setup.out)
    job.accelerator.wait_for_everyone()
    instructions = None
    if job.model.config.instruction_dim > 0:
        instructions = InstructionEncoder(instruction_cache_file(setup.out))
    evaluator, pretrained = None, None
    if job.is_main_process:
        eval_pool = episode_pool(job.dataset, job.eval_episodes, job.views, job.normalizer)
        evaluator = HeldOutRollouts(
            pool=eval_pool,
            autoencoder=job.autoencoder,
            rewards=job.eval_rewards,
            policy=job.policy,
            context_frames=setup.context_frames,
            horizon=setup.eval_horizon,
            sampling_steps=setup.eval_sampling_steps,
            seeds=tuple(range(setup.eval_seeds)),
            use_actions=setup.conditions == "rollout-states",
            instruction_encoder=instructions,
        )
        pretrained = copy.deepcopy(job.model).eval()
    result = align(
        job.config,
        job.model,
        job.autoencoder,
        job.conditions,
        job.rewards,
        setup.out,
        instruction_encoder=instructions,
        evaluate=evaluator,
        relabel=job.relabel,
        accelerator=job.accelerator,
        resume=setup.resume,
    )
    if evaluator is None or pretrained is None:
        return None
    count = min(setup.videos, setup.eval_episodes)
    videos = before_after_videos(evaluator, pretrained, job.model, setup.out / VIDEOS_DIR, count)
    summary = alignment_summary(setup.out, result, job)
    summary["videos"] = [str(video.relative_to(setup.out)) for video in videos]  # listed once written
    atomic_write_json(setup.out / SUMMARY_FILE, summary)
    return AlignmentReport(result, summary, videos)


def align_world_model(setup: AlignSetup, config: AlignConfig | None = None) -> AlignmentReport | None:
    """Prepare and run an alignment (``prepare_alignment`` + ``run_alignment``)."""
    return run_alignment(prepare_alignment(setup, config or AlignConfig()))


def episode_pool(
    dataset: LeRobotDataset, indices: list[int], views: tuple[str, ...], normalizer: Normalizer | None
) -> EpisodePool:
    """The episodes ``indices`` of ``dataset`` loaded as a pool of conditions or evaluation starts."""
    episodes = list(dataset.iter_episodes(indices, views))
    return EpisodePool(episodes=episodes, indices=indices, views=views, normalizer=normalizer, fps=dataset.fps)


def _relabel_hook(
    setup: AlignSetup, config: AlignConfig, rewards: RewardComposer, device: Any, pool: EpisodePool
) -> Any:
    """The judge relabel hook of ``relabel_every``, refreshing the judge reward's own student;
    its pool is anchored by clips of the training episodes as long as the candidates."""
    if config.relabel_every <= 0:
        return None
    judges = [reward for reward in rewards.rewards if reward.name == "judge"]
    if not judges or setup.teacher is None:
        raise ConfigError(
            "--relabel-every refreshes the student judge of the judge reward with a teacher: add judge=W to "
            "--rewards (with --judge STUDENT) and pass --teacher TEACHER"
        )
    from worldalign.algos.judge import JudgeRelabelHook
    from worldalign.models.checkpoint import load_model
    from worldalign.models.judge.modeling_judge import JudgeTeacher

    teacher = load_model(JudgeTeacher, setup.teacher, device=device)
    frames = teacher.config.num_frames
    if setup.conditions == "prompts":  # the candidates the teacher will score: refused now, not at update K
        check_clip_length(setup.horizon, frames, "relabel (teacher)")
    anchor = _anchor_clips(pool, max(setup.horizon, frames))
    return JudgeRelabelHook(teacher, judges[0].judge, judges[0].encoder, anchor=anchor)


def _anchor_clips(pool: EpisodePool, length: int, count: int = RELABEL_ANCHOR_CLIPS) -> Rollout:
    """Up to ``count`` real clips of ``length`` frames, one per episode of ``pool`` (spread over
    the pool), each from the middle of its episode."""
    chosen = spread_evenly(list(range(len(pool.episodes))), count)
    clips = []
    for index in chosen:
        episode = pool.episodes[index]
        if episode.length > length:
            start = max(1, (episode.length - length) // 2)
            clips.append(episode_rollout(episode, start=start, length=length, views=pool.views))
    if not clips:
        raise ConfigError(f"no training episode is longer than {length} frames: nothing to anchor the relabel pool")
    return stack_rollouts(clips)


def model_views(dataset: LeRobotDataset, count: int, where: Path) -> tuple[str, ...]:
    """``dataset``'s views, checked to be as many as the world model at ``where`` predicts."""
    if len(dataset.views) != count:
        raise ConfigError(
            f"the world model {where} predicts {count} view(s); {dataset.root} has {list(dataset.views)}: use the "
            "dataset (views) the world model was trained on"
        )
    return tuple(dataset.views)


def alignment_summary(out: Path, result: AlignResult, job: AlignmentJob) -> dict[str, Any]:
    """The run's evaluations read back from its log, so a resumed run reports the whole run."""
    lines = [json.loads(line) for line in (out / ALIGN_LOG_FILE).read_text().splitlines() if line]
    evaluations = {line["iteration"]: _scalars(line) for line in lines if line["kind"] == "eval"}
    trained = [line for line in lines if line["kind"] == "train"]
    return {
        "algorithm": job.config.algorithm,
        "conditions": job.setup.conditions,
        "rewards": job.reward_spec,
        "eval_rewards": job.setup.eval_rewards,
        "iterations": result.iteration,
        "resumed_from": result.resumed_from,
        "training_seconds": sum(line["time/iteration_s"] for line in trained),
        "before": evaluations.get(0),
        "after": evaluations.get(result.iteration),
        "evaluations": {str(k): v for k, v in evaluations.items()},
    }


def _scalars(line: dict[str, Any]) -> dict[str, float]:
    """A log line's scalars; a NaN logged as null (``utils.json_values``) reads back as NaN."""
    skipped = ("iteration", "kind", "nonfinite")
    return {key: float("nan") if value is None else value for key, value in line.items() if key not in skipped}


def before_after_videos(
    evaluator: HeldOutRollouts, pretrained: WorldModel, aligned: WorldModel, folder: Path, count: int
) -> list[Path]:
    """Real | pretrained | aligned rows (one column per view) for the first ``count`` held-out starts."""
    episodes = list(range(min(count, len(evaluator.pool.episodes))))
    rows = {}
    for name, model in (("pretrained", pretrained), ("aligned", aligned.eval())):
        with torch.no_grad():
            rows[name] = evaluator.generate(model, episodes, torch.Generator().manual_seed(0))
    written = []
    for position, episode in enumerate(episodes):
        real = rows["aligned"].reference[position]
        generated = (rows["pretrained"].frames[position], rows["aligned"].frames[position])
        videos = [to_uint8_video(x) for x in (real, *generated)]
        grid = compose_grid(
            videos,
            column_labels=list(evaluator.pool.views),
            row_labels=["real", "pretrained", "aligned"],
            title=f"held-out episode {evaluator.pool.indices[episode]}",
            scale=viewing_scale(real.shape[-1]),
        )
        path = folder / f"episode_{evaluator.pool.indices[episode]}.mp4"
        written.append(write_video(grid, path, fps=evaluator.pool.fps))
    return written
