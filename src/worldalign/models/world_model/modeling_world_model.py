"""The latent flow-matching world model: a DiT-style spatiotemporal transformer.

Given clean latents of ``0..max_context_frames`` context frames and noisy latents of the future
frames (all views), the flow time ``t`` and the conditions (per-step actions and/or an
instruction embedding), it predicts the rectified-flow velocity of the future latents
(convention in ``worldalign.sampling.flow_math``; Liu et al. 2022, arXiv:2209.03003).

Architecture (DiT, Peebles & Xie 2022, arXiv:2212.09748): latents are patchified into tokens with
learned spatial, view and frame-offset embeddings; adaLN-Zero blocks attend over every token of
every view and frame at once. The adaLN condition is computed **per frame**: the flow time of the
frame (0 for clean context, or the level of the noise it carries; ``t`` for the future), the
action that led to the frame, optionally the displacement commanded since the last context
frame (``WorldModelConfig.action_displacement``), and the instruction. Conditioning the
modulation per frame rather than adding action tokens puts each action right at the frame it
explains, which is where the prototype's model used its actions too little. Learned null
embeddings replace dropped actions/instructions, so one network gives both the conditional and
the unconditional velocity of classifier-free guidance (Ho & Salimans 2022, arXiv:2207.12598).

Frame offsets are counted from the first future frame (context frames are -1, -2, ...), so the
frame just before the prediction has the same embedding whatever the context length.

With ``WorldModelConfig.causal_context`` the context tokens attend only to context tokens, never
to the noisy future: their keys and values at every block then depend on the context and its
conditions alone, not on the flow time, so a sampler computes them once per chunk
(``WorldModel.encode_context``) and every denoising step runs the future tokens only, attending
to the cached keys and values. This is the block-causal attention of autoregressive video
diffusion models that cache their context (e.g. CausVid, Yin et al. 2024, arXiv:2412.07772); the
cache lives for one chunk, since a frame's offset embedding moves as the window slides.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from worldalign.errors import ConfigError
from worldalign.models.world_model.configuration_world_model import WorldModelConfig

# DiT feeds t in [0, 1000] to the sinusoidal embedding; our t is in [0, 1].
TIME_EMBEDDING_SCALE = 1000.0
FREQUENCY_EMBEDDING_DIM = 256

KeysValues = tuple[Tensor, Tensor]
"""Attention keys and values of some tokens, each ``(B, heads, tokens, head_dim)``."""


def sinusoidal_embedding(t: Tensor, dim: int = FREQUENCY_EMBEDDING_DIM, max_period: float = 10000.0) -> Tensor:
    """``(...,)`` times → ``(..., dim)`` sinusoidal features (the DiT/ADM timestep embedding)."""
    half = dim // 2
    frequencies = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    angles = (t.float() * TIME_EMBEDDING_SCALE)[..., None] * frequencies
    return torch.cat([torch.cos(angles), torch.sin(angles)], dim=-1)


class TimeEmbedding(nn.Module):
    """Flow time ``(...,)`` → ``(..., width)``: sinusoidal features then a 2-layer MLP."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(FREQUENCY_EMBEDDING_DIM, width), nn.SiLU(), nn.Linear(width, width))

    def forward(self, t: Tensor) -> Tensor:
        return self.mlp(sinusoidal_embedding(t))


def modulate(x: Tensor, shift: Tensor, scale: Tensor) -> Tensor:
    """adaLN on tokens ``(B, V, T, S, D)`` with per-frame ``shift``/``scale`` ``(B, T, D)``."""
    return x * (1 + scale[:, None, :, None]) + shift[:, None, :, None]


def gate(x: Tensor, gate_values: Tensor) -> Tensor:
    """Scale a residual branch ``(B, V, T, S, D)`` by per-frame gates ``(B, T, D)``."""
    return x * gate_values[:, None, :, None]


class Attention(nn.Module):
    """Multi-head self-attention over all tokens, with RMS-normalised queries and keys.

    QK normalisation keeps attention logits bounded, which lets bf16 training on GPUs run at a
    higher learning rate without the logit growth that destabilises larger DiTs.
    """

    def __init__(self, width: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(width, 3 * width)
        self.q_norm = nn.RMSNorm(width // num_heads, eps=1e-6)
        self.k_norm = nn.RMSNorm(width // num_heads, eps=1e-6)
        self.proj = nn.Linear(width, width)

    def forward(self, tokens: Tensor, context: KeysValues | None = None) -> tuple[Tensor, KeysValues]:
        """``(B, N, D)`` → ``(B, N, D)``, and the tokens' own keys and values. ``context``: keys and
        values of other tokens that these also attend to (a causal-context model's context)."""
        q, k, v = rearrange(self.qkv(tokens), "b n (three h d) -> three b h n d", three=3, h=self.num_heads)
        # Normalise in float32 (under bf16 autocast too): the fused RMSNorm wants matching dtypes.
        q = self.q_norm(q.float()).to(v.dtype)
        k = self.k_norm(k.float()).to(v.dtype)
        own = (k, v)
        if context is not None:
            k = torch.cat([context[0].to(k.dtype), k], dim=2)
            v = torch.cat([context[1].to(v.dtype), v], dim=2)
        out = F.scaled_dot_product_attention(q, k, v)
        return self.proj(rearrange(out, "b h n d -> b n (h d)")), own


class DiTBlock(nn.Module):
    """adaLN-Zero transformer block (DiT, arXiv:2212.09748) with per-frame modulation."""

    def __init__(self, width: int, num_heads: int, mlp_ratio: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(width, elementwise_affine=False, eps=1e-6)
        self.attn = Attention(width, num_heads)
        self.norm2 = nn.LayerNorm(width, elementwise_affine=False, eps=1e-6)
        hidden = int(width * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(width, hidden), nn.GELU(approximate="tanh"), nn.Linear(hidden, width))
        self.modulation = nn.Sequential(nn.SiLU(), nn.Linear(width, 6 * width))

    def forward(self, x: Tensor, condition: Tensor, context: KeysValues | None = None) -> tuple[Tensor, KeysValues]:
        """Tokens ``(B, V, T, S, D)``, per-frame condition ``(B, T, D)`` → tokens, and the keys and
        values their attention computed; ``context``: keys and values they also attend to."""
        shift_a, scale_a, gate_a, shift_m, scale_m, gate_m = self.modulation(condition).chunk(6, dim=-1)
        shape = x.shape
        h = modulate(self.norm1(x), shift_a, scale_a)
        h, keys_values = self.attn(h.reshape(shape[0], -1, shape[-1]), context)
        x = x + gate(h.reshape(shape), gate_a)
        h = self.mlp(modulate(self.norm2(x), shift_m, scale_m))
        return x + gate(h, gate_m), keys_values


@dataclass(frozen=True)
class ContextCache:
    """A causal-context model's context at every block (``WorldModel.encode_context``): the keys
    and values the future tokens attend to, the same at every denoising step of a chunk."""

    keys_values: tuple[KeysValues, ...]
    """Per block, the context tokens' keys and values, ``(B, heads, tokens, head_dim)`` each."""


class FinalLayer(nn.Module):
    """adaLN → linear projection of each token to its patch of velocities."""

    def __init__(self, width: int, patch_dim: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(width, elementwise_affine=False, eps=1e-6)
        self.modulation = nn.Sequential(nn.SiLU(), nn.Linear(width, 2 * width))
        self.linear = nn.Linear(width, patch_dim)

    def forward(self, x: Tensor, condition: Tensor) -> Tensor:
        shift, scale = self.modulation(condition).chunk(2, dim=-1)
        return self.linear(modulate(self.norm(x), shift, scale))


FINE_TUNED_INTO: dict[str, tuple[str, ...]] = {
    "causal_context": (),
    "action_displacement": ("displacement_embed.",),
}
"""``WorldModelConfig`` switches a trained model can be fine-tuned into (``train world-model
--init-from``), each with the prefixes of the tensors it adds (they keep their initialisation)."""


def action_displacements(actions: Tensor, context_frames: int) -> Tensor:
    """The displacement commanded into each future frame: the sum of the actions since the last
    context frame (from the window's first frame when there is no context), ``(B, Tf, A)`` for
    window actions ``(B, Tc + Tf - 1, A)`` (``actions[:, i]`` moves frame ``i`` to ``i + 1``).

    A policy step moves the hand about 1 px at 64 px (docs/benchmarks.md, issue 3), so a frame's
    own action says little about where the arm should be; their running sum says where it was sent.
    """
    incoming = F.pad(actions, (0, 0, 1, 0))  # incoming[:, i]: the action into window frame i
    summed = incoming.cumsum(dim=1)
    if context_frames == 0:
        return summed
    return summed[:, context_frames:] - summed[:, context_frames - 1 : context_frames]


def _action_mlp(action_dim: int, width: int) -> nn.Sequential:
    """An action (or displacement) vector -> a frame condition of ``width``."""
    return nn.Sequential(nn.Linear(action_dim, width), nn.SiLU(), nn.Linear(width, width))


class WorldModel(nn.Module):
    """Predicts the velocity of future latents from context latents and conditions.

    Shapes: ``V`` views, ``Tc`` context frames (0..max_context_frames), ``Tf`` future frames
    (1..future_frames), latents ``(C, h, w)`` as in the config, ``A`` action dim, ``E``
    instruction dim.
    """

    model_type = "latent_flow_world_model"

    def __init__(self, config: WorldModelConfig) -> None:
        super().__init__()
        self.config = config
        width, patch = config.width, config.patch_size
        patch_dim = config.latent_channels * patch * patch
        self.patch_embed = nn.Linear(patch_dim, width)
        self.spatial_embed = nn.Parameter(torch.randn(config.tokens_per_frame, width) * 0.02)
        self.view_embed = nn.Parameter(torch.randn(config.num_views, width) * 0.02)
        self.frame_embed = nn.Parameter(torch.randn(config.max_context_frames + config.future_frames, width) * 0.02)
        self.time_embed = TimeEmbedding(width)
        # One null action stands for "no action known": the one leading into the first frame of
        # the window, and every action of a sample whose actions were dropped (CFG).
        self.null_action = nn.Parameter(torch.randn(width) * 0.02)
        if config.action_dim > 0:
            self.action_embed = _action_mlp(config.action_dim, width)
        if config.action_displacement:
            self.displacement_embed = _action_mlp(config.action_dim, width)
        if config.instruction_dim > 0:
            self.instruction_embed = nn.Linear(config.instruction_dim, width)
            self.null_instruction = nn.Parameter(torch.randn(width) * 0.02)
        self.blocks = nn.ModuleList(DiTBlock(width, config.num_heads, config.mlp_ratio) for _ in range(config.depth))
        self.final = FinalLayer(width, patch_dim)
        self.activation_checkpointing = False
        """Recompute each block's activations in the backward pass instead of keeping them (set by
        training, ``WorldModelTrainingConfig.activation_checkpointing``): the same gradients for
        about a third more compute and a fraction of the activation memory (Chen et al. 2016,
        arXiv:1604.06174)."""
        self._initialise()

    def _initialise(self) -> None:
        """DiT's initialisation: Xavier linears, zeroed adaLN modulations and output projection."""
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                nn.init.zeros_(module.bias)
        for block in self.blocks:
            nn.init.zeros_(block.modulation[-1].weight)
            nn.init.zeros_(block.modulation[-1].bias)
        nn.init.zeros_(self.final.modulation[-1].weight)
        nn.init.zeros_(self.final.modulation[-1].bias)
        nn.init.zeros_(self.final.linear.weight)
        nn.init.zeros_(self.final.linear.bias)
        if self.config.action_displacement:
            # Zero at the start: a model fine-tuned into it begins as the model it was.
            nn.init.zeros_(self.displacement_embed[-1].weight)
            nn.init.zeros_(self.displacement_embed[-1].bias)

    def forward(
        self,
        noisy_future: Tensor,
        t: Tensor,
        context: Tensor,
        actions: Tensor | None = None,
        instruction: Tensor | None = None,
        keep_actions: Tensor | None = None,
        keep_instruction: Tensor | None = None,
        context_time: Tensor | None = None,
        cache: ContextCache | None = None,
    ) -> Tensor:
        """Velocity of the future latents.

        Args:
            noisy_future: ``(B, V, Tf, C, h, w)`` future latents at flow time ``t``.
            t: ``(B,)`` flow time in [0, 1] (1 = pure noise).
            context: ``(B, V, Tc, C, h, w)`` clean context latents, oldest first.
            actions: ``(B, Tc + Tf - 1, A)``; ``actions[:, i]`` moves window frame ``i`` to
                ``i + 1`` (the ``ClipBatch`` convention). ``None`` = null actions for all.
            instruction: ``(B, E)`` instruction embeddings; ``None`` = null instruction for all.
            keep_actions: ``(B,)`` bool, False replaces a sample's actions by the null action
                (condition dropout in training); ``None`` keeps all.
            keep_instruction: ``(B,)`` bool, the same for the instruction.
            context_time: ``(B,)`` flow time of the context latents, the level of the noise they
                carry; ``None`` = 0, clean context (see ``WorldModelTrainingConfig.context_noise``).
            cache: a causal-context model's ``encode_context`` of this ``context`` and these
                conditions (without it, computed here).

        Returns:
            ``(B, V, Tf, C, h, w)`` predicted velocity ``eps - x0``.
        """
        batch, _, context_frames = self._check_inputs(noisy_future, context)
        future_frames = noisy_future.shape[2]
        condition = self._frame_conditions(
            batch, context_frames, future_frames, t, actions, instruction, keep_actions, keep_instruction, context_time
        )
        first_future = self.config.max_context_frames
        if self.config.causal_context:
            if cache is None:
                cache = self._context_cache(context, condition[:, :context_frames])
            self._check_cache(cache, batch, context_frames)
            future = self._tokens(noisy_future, first_future)
            for block, keys_values in zip(self.blocks, cache.keys_values, strict=True):
                future = self._run_block(block, future, condition[:, context_frames:], keys_values)[0]
        else:
            if cache is not None:
                raise ConfigError("a context cache was given to a world model without causal_context (its config)")
            tokens = self._tokens(torch.cat([context, noisy_future], dim=2), first_future - context_frames)
            for block in self.blocks:
                tokens = self._run_block(block, tokens, condition)[0]
            future = tokens[:, :, context_frames:]
        patches = self.final(future, condition[:, context_frames:])
        side = self.config.latent_size // self.config.patch_size
        p = self.config.patch_size
        return rearrange(patches, "b v t (y x) (c p q) -> b v t c (y p) (x q)", y=side, x=side, p=p, q=p)

    def encode_context(
        self,
        context: Tensor,
        future_frames: int,
        actions: Tensor | None = None,
        instruction: Tensor | None = None,
        keep_actions: Tensor | None = None,
        keep_instruction: Tensor | None = None,
        context_time: Tensor | None = None,
    ) -> ContextCache:
        """A causal-context model's context, once for every denoising step of a chunk of
        ``future_frames`` frames: pass it to ``forward`` as ``cache`` with the same inputs
        (``forward``'s arguments; ``actions`` cover the context and that chunk)."""
        if not self.config.causal_context:
            raise ConfigError("encode_context needs a world model with causal_context (WorldModelConfig)")
        batch, context_frames = context.shape[0], context.shape[2]
        placeholder = context.new_zeros(batch, context.shape[1], future_frames, *context.shape[3:])
        self._check_inputs(placeholder, context)
        condition = self._frame_conditions(
            batch, context_frames, future_frames, context.new_zeros(batch), actions, instruction, keep_actions,
            keep_instruction, context_time,
        )  # fmt: skip
        return self._context_cache(context, condition[:, :context_frames])

    def _context_cache(self, context: Tensor, condition: Tensor) -> ContextCache:
        """Run the context tokens ``(B, V, Tc, ...)`` through the blocks, attending among themselves."""
        batch, context_frames = context.shape[0], context.shape[2]
        head_dim = self.config.width // self.config.num_heads
        if context_frames == 0:
            empty = context.new_zeros(batch, self.config.num_heads, 0, head_dim)
            return ContextCache(tuple((empty, empty) for _ in self.blocks))
        tokens = self._tokens(context, self.config.max_context_frames - context_frames)
        keys_values = []
        for block in self.blocks:
            tokens, own = self._run_block(block, tokens, condition)
            keys_values.append(own)
        return ContextCache(tuple(keys_values))

    def _run_block(
        self, block: DiTBlock, tokens: Tensor, condition: Tensor, context: KeysValues | None = None
    ) -> tuple[Tensor, KeysValues]:
        if self.activation_checkpointing and self.training and torch.is_grad_enabled():
            return checkpoint(block, tokens, condition, context, use_reentrant=False)
        return block(tokens, condition, context)

    def _check_cache(self, cache: ContextCache, batch: int, context_frames: int) -> None:
        keys = cache.keys_values[0][0]
        cached_frames = keys.shape[2] // (self.config.num_views * self.config.tokens_per_frame)
        if (keys.shape[0], cached_frames) != (batch, context_frames):
            raise ConfigError(
                f"context cache of {keys.shape[0]} samples x {cached_frames} frames given for {batch} x "
                f"{context_frames}: encode_context must see the same context as the call"
            )

    def _tokens(self, latents: Tensor, first_frame: int) -> Tensor:
        """Latents ``(B, V, T, C, h, w)`` → embedded tokens ``(B, V, T, S, D)``; ``first_frame``:
        the index of the first frame's offset embedding (``max_context_frames`` is the first future)."""
        p = self.config.patch_size
        patches = rearrange(latents, "b v t c (y p) (x q) -> b v t (y x) (c p q)", p=p, q=p)
        frames = latents.shape[2]
        tokens = self.patch_embed(patches) + self.spatial_embed
        tokens = tokens + self.view_embed[None, :, None, None]
        return tokens + self.frame_embed[first_frame : first_frame + frames][None, None, :, None]

    def _frame_conditions(
        self,
        batch: int,
        context_frames: int,
        future_frames: int,
        t: Tensor,
        actions: Tensor | None,
        instruction: Tensor | None,
        keep_actions: Tensor | None,
        keep_instruction: Tensor | None,
        context_time: Tensor | None,
    ) -> Tensor:
        """The adaLN condition of every frame, ``(B, Tc + Tf, D)``."""
        width = self.config.width
        frames = context_frames + future_frames
        device = self.null_action.device
        t = t.to(device=device).reshape(batch).float()
        if context_time is None:
            context_times = torch.zeros(batch, context_frames, device=device)
        else:
            context_times = context_time.to(device=device).reshape(batch, 1).float().expand(batch, context_frames)
        frame_times = torch.cat([context_times, t[:, None].expand(batch, future_frames)], dim=1)
        condition = self.time_embed(frame_times)
        null_actions = self.null_action.expand(batch, frames, width)
        if actions is None:
            action_embedding = null_actions
        else:
            self._check_actions(actions, batch, frames)
            incoming = self.action_embed(actions)
            action_embedding = torch.cat([null_actions[:, :1], incoming], dim=1)
            if self.config.action_displacement:
                displacement = self.displacement_embed(action_displacements(actions, context_frames))
                action_embedding = action_embedding + F.pad(displacement, (0, 0, context_frames, 0))
            if keep_actions is not None:
                action_embedding = torch.where(keep_actions[:, None, None], action_embedding, null_actions)
        condition = condition + action_embedding
        if instruction is not None and self.config.instruction_dim == 0:
            raise ConfigError(
                "an instruction embedding was given to a world model that is not instruction-conditioned "
                "(WorldModelConfig.instruction_dim=0)"
            )
        if self.config.instruction_dim > 0:
            null_instruction = self.null_instruction.expand(batch, width)
            if instruction is None:
                instruction_embedding = null_instruction
            else:
                self._check_instruction(instruction, batch)
                instruction_embedding = self.instruction_embed(instruction)
                if keep_instruction is not None:
                    instruction_embedding = torch.where(
                        keep_instruction[:, None], instruction_embedding, null_instruction
                    )
            condition = condition + instruction_embedding[:, None]
        return condition

    def _check_inputs(self, noisy_future: Tensor, context: Tensor) -> tuple[int, int, int]:
        config = self.config
        expected = (config.latent_channels, config.latent_size, config.latent_size)
        for name, latents in (("noisy_future", noisy_future), ("context", context)):
            if latents.ndim != 6 or tuple(latents.shape[-3:]) != expected:
                raise ConfigError(
                    f"world model input {name} has shape {tuple(latents.shape)}, expected (B, V, T, {expected[0]}, "
                    f"{expected[1]}, {expected[2]}) from WorldModelConfig (latent_channels={config.latent_channels}, "
                    f"latent_size={config.latent_size}): is the autoencoder the one this world model was trained on?"
                )
            if latents.shape[1] != config.num_views:
                raise ConfigError(
                    f"world model input {name} has {latents.shape[1]} views, the world model was built for "
                    f"num_views={config.num_views}"
                )
        if context.shape[0] != noisy_future.shape[0]:
            raise ConfigError(f"context batch {context.shape[0]} != noisy_future batch {noisy_future.shape[0]}")
        if context.shape[2] > config.max_context_frames:
            raise ConfigError(
                f"{context.shape[2]} context frames given, the world model accepts at most "
                f"max_context_frames={config.max_context_frames}"
            )
        if not 1 <= noisy_future.shape[2] <= config.future_frames:
            raise ConfigError(
                f"{noisy_future.shape[2]} future frames asked for, the world model predicts 1..{config.future_frames}"
            )
        return context.shape[0], context.shape[1], context.shape[2]

    def _check_actions(self, actions: Tensor, batch: int, frames: int) -> None:
        if self.config.action_dim == 0:
            raise ConfigError(
                "actions were given to a world model that is not action-conditioned (WorldModelConfig.action_dim=0)"
            )
        expected = (batch, frames - 1, self.config.action_dim)
        if tuple(actions.shape) != expected:
            raise ConfigError(
                f"actions of shape {tuple(actions.shape)} given, expected {expected}: one action between each pair "
                f"of the {frames} window frames, action_dim={self.config.action_dim} (WorldModelConfig.action_dim)"
            )

    def _check_instruction(self, instruction: Tensor, batch: int) -> None:
        expected = (batch, self.config.instruction_dim)
        if tuple(instruction.shape) != expected:
            raise ConfigError(
                f"instruction embedding of shape {tuple(instruction.shape)} given, expected {expected} "
                f"(WorldModelConfig.instruction_dim={self.config.instruction_dim})"
            )
