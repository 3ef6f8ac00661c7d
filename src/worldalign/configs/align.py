"""Training configs of world-model alignment (``algos.align``): the loop's, Flow-GRPO's
(``algos.flow_grpo``, arXiv:2505.05470) and DiffusionNFT's (``algos.diffusion_nft``,
arXiv:2509.16117)."""

from __future__ import annotations

from dataclasses import dataclass, field

from worldalign.errors import ConfigError

ALGORITHMS = ("grpo", "nft")
DEFAULT_LEARNING_RATES = {"grpo": 3e-5, "nft": 1e-5}
"""``AlignConfig.learning_rate`` when it is None, per algorithm (measured: docs/benchmarks.md, "RL
climbs an easy reward")."""


@dataclass(frozen=True)
class FlowGRPOConfig:
    """The hyperparameters of the Flow-GRPO objective (arXiv:2505.05470)."""

    clip_range: float = 1e-4
    """PPO's clip ``eps`` on the per-step ratio. Flow-GRPO's released configs use 1e-4: a step's
    log-probability sums over every latent dimension, so the per-step ratio moves far faster than
    a token's ratio in an LLM and needs a much tighter clip than PPO's 0.2."""
    kl_coef: float = 0.04
    """``beta``, the weight of the KL to the frozen reference model; 0 disables it and then no
    reference forward is run. 0.04 is Flow-GRPO's value for its GenEval and text-rendering runs."""
    adv_clip_max: float = 5.0
    """Advantages are clamped to ``[-adv_clip_max, adv_clip_max]`` before the surrogate (Flow-GRPO's
    released configs use 5, which only touches outliers of group-normalised advantages)."""
    train_timestep_fraction: float = 1.0
    """Fraction of the denoising steps each update trains on (``flow_grpo.select_train_steps``); Flow-GRPO
    trains on (nearly) all steps of its reduced 10-step schedule, so 1.0 = all; smaller values
    trade signal for speed."""
    inner_epochs: int = 1
    """Optimisation passes over each batch of rollouts; Flow-GRPO uses 1 (strictly on-policy
    except for the gradient accumulation within the batch)."""

    def __post_init__(self) -> None:
        if self.clip_range <= 0:
            raise ConfigError(f"clip_range must be > 0, got {self.clip_range}")
        if self.kl_coef < 0:
            raise ConfigError(f"kl_coef must be >= 0 (0 disables the KL), got {self.kl_coef}")
        if self.adv_clip_max <= 0:
            raise ConfigError(f"adv_clip_max must be > 0, got {self.adv_clip_max}")
        if not 0 < self.train_timestep_fraction <= 1:
            raise ConfigError(f"train_timestep_fraction must be in (0, 1], got {self.train_timestep_fraction}")
        if self.inner_epochs < 1:
            raise ConfigError(f"inner_epochs must be >= 1, got {self.inner_epochs}")


@dataclass(frozen=True)
class NFTConfig:
    """The hyperparameters of the DiffusionNFT objective (arXiv:2509.16117)."""

    beta: float = 1.0
    """The guidance strength ``b`` of the implicit policies ``v±`` (NOT the KL weight). The paper's
    default is 1, where ``v+ = v_theta`` and ``v- = 2 v_old - v_theta``."""
    kl_coef: float = 0.0
    """Weight of ``mean (v_theta - v_ref)^2``, the KL-like penalty to a frozen reference model; 0
    (the default: the SPEC makes it optional, and the EMA old model already anchors training)
    disables it and then no reference forward is run."""
    adv_clip_max: float = 5.0
    """Advantages are clipped to ``±adv_clip_max`` before ``optimality_probability`` maps them to
    [0, 1]; it also scales the loss (see ``algos.diffusion_nft``). 5 as in Flow-GRPO and DiffusionNFT's
    released configs."""
    ema_decay: float = 0.5
    """The decay the old model's EMA grows to (and holds): ``old = d old + (1 - d) theta`` after
    each update. 0.5 is the cap of the paper's default soft-update schedule."""
    ema_decay_rate: float = 0.001
    """Growth of the decay per update: ``d_i = min(ema_decay_rate * i, ema_decay)`` (the paper's
    soft update: near on-policy early, a slower-moving old model later); 0 gives the constant
    ``ema_decay`` from the first update."""
    time_min: float = 0.0
    """Lower end of the uniform flow times ``t`` drawn for training (0 = data)."""
    time_max: float = 1.0
    """Upper end of the uniform flow times (1 = pure noise). [0, 1] covers every time the sampler
    visits; the loss scales with ``t`` (``x0± - x0 = t (v - v±)``), so small times carry little."""

    def __post_init__(self) -> None:
        if self.beta <= 0:
            raise ConfigError(f"beta (the NFT guidance strength) must be > 0, got {self.beta}")
        if self.kl_coef < 0:
            raise ConfigError(f"kl_coef must be >= 0 (0 disables the KL), got {self.kl_coef}")
        if self.adv_clip_max <= 0:
            raise ConfigError(f"adv_clip_max must be > 0, got {self.adv_clip_max}")
        if not 0 <= self.ema_decay < 1:
            raise ConfigError(f"ema_decay must be in [0, 1), got {self.ema_decay}")
        if self.ema_decay_rate < 0:
            raise ConfigError(f"ema_decay_rate must be >= 0 (0 = constant ema_decay), got {self.ema_decay_rate}")
        if not 0 <= self.time_min < self.time_max <= 1:
            raise ConfigError(f"need 0 <= time_min < time_max <= 1, got {self.time_min} and {self.time_max}")

    def ema_decay_at(self, update_index: int) -> float:
        """The old model's EMA decay after update ``update_index`` (0-based); non-decreasing."""
        if update_index < 0:
            raise ConfigError(f"update_index must be >= 0, got {update_index}")
        if self.ema_decay_rate == 0:
            return self.ema_decay
        return min(self.ema_decay_rate * update_index, self.ema_decay)


@dataclass(frozen=True)
class AlignConfig:
    """An alignment run: the algorithm, the sampling budget, the optimizer and the bookkeeping."""

    algorithm: str = "nft"
    """"grpo" (Flow-GRPO) or "nft" (DiffusionNFT)."""
    iterations: int = 20
    """Updates in total (one batch of candidates each)."""
    conditions_per_iteration: int = 4
    """Conditions S per iteration and process."""
    group_size: int = 4
    """Candidates K per condition (GRPO's group, PersistWorld's K)."""
    sampling_steps: int = 10
    """Denoising steps of every generated chunk."""
    bf16: bool = False
    """Run the world model's forward passes under bf16 autocast: candidates and rollout-state
    prefixes while sampling, the policy and old models in DiffusionNFT's update (weights,
    optimizer, losses and the autoencoder stay float32). DiffusionNFT only: it trains on the clean
    samples whatever produced them, while Flow-GRPO's ratio compares each step's sampling
    log-probability with the update's, which a change of precision would put off 1 before any
    update. On the 2-core CPU (AVX-512 BF16) a forward of the cpu preset is ~1.5x faster
    (docs/benchmarks.md, "Cheaper iterations")."""
    sde_noise_level: float = 0.7
    """Flow-GRPO's SDE noise level ``a`` (GRPO samples with the SDE; 0.7 as in Flow-GRPO)."""
    nft_sampler: str = "ode"
    """Sampler of NFT's candidates: "ode" (DiffusionNFT's default: any sampler works) or "sde"."""
    learning_rate: float | None = None
    """AdamW learning rate after the warmup; None = the algorithm's (``DEFAULT_LEARNING_RATES``).
    Full fine-tuning of a pretrained model wants a small one: measured on the shipped cpu world
    model, 8 NFT updates at 3e-4 collapse its held-out fidelity (0.67 -> 0.29), at 3e-5 they lower
    it (0.67 -> 0.55). Flow-GRPO's gradient is far noisier per update (a REINFORCE estimate over
    every latent dimension of the SDE noise, weighted by advantages of candidates that differ by
    ~0.001 in reward), so it needs 3x NFT's to climb within 50 updates; at 10x it wrecks the model
    within 25 (docs/benchmarks.md)."""
    warmup_iterations: int = 5
    """Linear learning-rate warmup: Adam's first steps move every weight by about the learning
    rate whatever its gradient (its moment estimates start from one sample)."""
    weight_decay: float = 0.0
    """AdamW weight decay."""
    grad_clip: float = 1.0
    """Clip the global gradient norm to this (0 disables)."""
    grpo: FlowGRPOConfig = field(default_factory=FlowGRPOConfig)
    """Flow-GRPO's hyper-parameters."""
    nft: NFTConfig = field(default_factory=NFTConfig)
    """DiffusionNFT's hyper-parameters."""
    checkpoint_every: int = 10
    """Iterations between resumable checkpoints (and the final one)."""
    keep_checkpoints: int = 2
    """Most recent checkpoints kept."""
    max_seconds: float = 0.0
    """Stop after the iteration that ends past this wall-clock budget (0 = no budget): compares
    algorithms at equal cost."""
    eval_every: int = 0
    """Iterations between held-out evaluations (0 = only before and after)."""
    relabel_every: int = 0
    """Iterations between calls of the relabel hook (0 = never): the judge's anti-hacking refresh."""
    seed: int = 0
    """Seeds every draw of the loop (process ``r`` uses ``seed + r``)."""

    def __post_init__(self) -> None:
        if self.algorithm not in ALGORITHMS:
            raise ConfigError(f"AlignConfig.algorithm={self.algorithm!r}; choose one of {ALGORITHMS}")
        if self.nft_sampler not in ("ode", "sde"):
            raise ConfigError(f"AlignConfig.nft_sampler={self.nft_sampler!r}; choose 'ode' or 'sde'")
        if self.bf16 and self.algorithm == "grpo":
            raise ConfigError(
                "AlignConfig.bf16=True with algorithm='grpo': Flow-GRPO's ratio compares each step's sampling "
                "log-probability with the update's, which a change of precision moves off 1 before any update; "
                "use it with algorithm='nft'"
            )
        if min(self.iterations, self.conditions_per_iteration, self.sampling_steps) < 1 or self.group_size < 2:
            raise ConfigError(
                f"AlignConfig: iterations={self.iterations}, conditions_per_iteration={self.conditions_per_iteration}, "
                f"sampling_steps={self.sampling_steps} must be >= 1 and group_size={self.group_size} >= 2 "
                "(advantages compare candidates of one condition)"
            )

    @property
    def peak_learning_rate(self) -> float:
        """The learning rate after the warmup: ``learning_rate``, or the algorithm's default."""
        return DEFAULT_LEARNING_RATES[self.algorithm] if self.learning_rate is None else self.learning_rate

    def learning_rate_at(self, iteration: int) -> float:
        """The learning rate of (0-based) update ``iteration``."""
        return self.peak_learning_rate * min(1.0, (iteration + 1) / max(1, self.warmup_iterations))
