"""The vision-language-action policy: camera views + instruction -> reasoning, FAST action tokens,
and a flow-matching action head.

RoboAlign (summary in ``../shared/seeds/001_36de1df6bd8cbac4.txt``) fine-tunes a multimodal LM to
reason inside ``<think> … </think>`` and then emit FAST action tokens (Pertsch et al. 2025,
arXiv:2501.09747), aligns it with GRPO, and acts through a diffusion/flow head on the backbone as
pi0 does (Black et al. 2024, arXiv:2410.24164). Here:

- vision (``vision_vla``): the shipped frame autoencoder's encoder, frozen (it was trained on these
  scenes), gives 16 x 8 x 8 latents per view; each ``patch_size`` x ``patch_size`` block of latent
  cells is one token through a trainable linear projection, plus a learned per-position
  embedding; or, with ``VLAConfig.vision="vit"``, a small ViT trained with the policy;
- proprioception (optional): one token through a linear projection;
- the causal LM reads ``[image][state][instruction]`` and is trained with cross-entropy on the
  reasoning, the FAST ids and the end token only (``processor_vla``);
- the flow head (``flow_head_vla``) is conditioned on the prefix's final hidden states, so it
  acts without generating text; its loss trains the backbone too (as in pi0).

A checkpoint holds every weight in ``model.safetensors``, the fine-tuned backbone included (GRPO
and SFT change it, so a GGUF path could not restore it), and a transformers backbone's config and
tokenizer files in ``assets/``, from which ``load_vla_policy`` rebuilds it; the config still names
the backbone's source (provenance, and the loading path of checkpoints older than ``assets/``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from worldalign.errors import ConfigError
from worldalign.models.autoencoder.modeling_autoencoder import Autoencoder
from worldalign.models.checkpoint import ASSETS_DIR, load_model, load_weights, read_config
from worldalign.models.vla.backbone_vla import build_backbone, write_backbone_assets
from worldalign.models.vla.configuration_vla import VLAConfig
from worldalign.models.vla.flow_head_vla import FlowActionHead
from worldalign.models.vla.processor_vla import Completion, HFTextCodec, VLABatch, VLAProcessor
from worldalign.models.vla.vision_vla import image_tokens_module


@dataclass
class VLAObservation:
    """What the policy sees at one step: ``frames`` ``(V, H, W, 3)`` uint8, the instruction and
    optionally ``state`` ``(S,)``."""

    frames: np.ndarray | Tensor
    instruction: str
    state: np.ndarray | Tensor | None = None


class VLAPolicy(nn.Module):
    """Views + instruction (+ state) -> ``<think>`` text, FAST ids, and a flow-head action chunk."""

    model_type = "vla_policy"

    def __init__(
        self, config: VLAConfig, *, pretrained_backbone: bool = False, backbone_files: Path | None = None
    ) -> None:
        """``pretrained_backbone``: read the backbone's weights from its source (a new policy);
        False builds the architecture only, as checkpoint loading does before reading its weights,
        from ``backbone_files`` (a checkpoint's ``assets`` folder) when given, else from the source.
        A frozen autoencoder starts random: ``new_vla_policy`` loads the shipped one."""
        super().__init__()
        self.config = config
        self.lm, codec = build_backbone(config, pretrained=pretrained_backbone, files=backbone_files)
        self.processor = VLAProcessor(codec, config.action_vocab_size, config.horizon, config.action_dim)
        width = self.lm.get_input_embeddings().weight.shape[1]
        self.vision = image_tokens_module(config, width)
        self.state_projection = nn.Linear(config.state_dim, width) if config.state_dim else None
        self.flow_head = self.new_flow_head()

    def write_assets(self, folder: Path) -> None:
        """``write_checkpoint``'s hook: a transformers backbone's config and tokenizer files go into
        the checkpoint's ``assets/``, so it loads without the source it was trained from (the
        ``tiny`` backbone needs none)."""
        if isinstance(self.processor.codec, HFTextCodec):
            write_backbone_assets(self.lm, self.processor.codec, folder)

    def new_flow_head(self) -> FlowActionHead:
        """A freshly initialised flow action head for this backbone's width (from torch's global
        generator): ``__init__``'s, and the new head RoboAlign adds on an aligned backbone
        (``algos.vla_action_head``)."""
        width = self.lm.get_input_embeddings().weight.shape[1]
        config = self.config
        return FlowActionHead(2 * width, config.horizon, config.action_dim, config.flow_hidden, config.flow_layers)

    @property
    def prefix_visual_tokens(self) -> int:
        """Prefix positions before the instruction: image tokens and the state token."""
        return self.config.image_tokens + (1 if self.state_projection is not None else 0)

    def _visual_prefix(self, frames: Tensor, state: Tensor | None) -> Tensor:
        parts = [self.vision(frames)]
        if self.state_projection is not None:
            if state is None or state.ndim != 2 or state.shape[1] != self.config.state_dim:
                shape = None if state is None else tuple(state.shape)
                raise ConfigError(f"state {shape}; expected (B, {self.config.state_dim}) (VLAConfig.state_dim)")
            parts.append(self.state_projection(state.float())[:, None])
        return torch.cat(parts, dim=1)

    def _context(self, hidden: Tensor, prefix_lengths: Tensor) -> Tensor:
        """Flow-head condition ``(B, 2 width)``: mean of the prefix's hidden states, last prefix one."""
        positions = torch.arange(hidden.shape[1], device=hidden.device)
        mask = (positions[None] < prefix_lengths[:, None]).to(hidden.dtype)
        mean = (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
        last = hidden[torch.arange(hidden.shape[0], device=hidden.device), prefix_lengths - 1]
        return torch.cat([mean, last], dim=-1)

    def loss_mask(self, batch: VLABatch) -> Tensor:
        """``(B, N)`` bool over the whole sequence: the positions whose token is a target (never an
        image, state or instruction position)."""
        visual = torch.zeros(batch.target_mask.shape[0], self.prefix_visual_tokens, dtype=torch.bool,
                             device=batch.target_mask.device)
        return torch.cat([visual, batch.target_mask], dim=1)

    def _run_targets(self, batch: VLABatch) -> tuple[Tensor, Tensor, Tensor, Tensor, int]:
        """One LM pass over a batch: ``(logits (B, M, vocab) of the positions that predict a
        target on, their targets (B, M), which of them are targets (B, M), final hidden states
        (B, N, width), visual prefix length)``."""
        visual = self._visual_prefix(batch.frames, batch.state)
        text = self.lm.get_input_embeddings()(batch.input_ids)
        embeddings = torch.cat([visual, text], dim=1)
        attention = torch.cat([torch.ones(visual.shape[:2], dtype=torch.bool, device=visual.device),
                               batch.attention_mask], dim=1)
        # Logits only from the first position that predicts a target on: the LM head over the image
        # and instruction positions would cost a third of SmolLM2's forward pass for nothing.
        start = visual.shape[1] + int(batch.prompt_lengths.min()) - 1
        out = self.lm(inputs_embeds=embeddings, attention_mask=attention.long(), output_hidden_states=True,
                      logits_to_keep=embeddings.shape[1] - start)
        labels = torch.cat([torch.zeros(visual.shape[:2], dtype=torch.long, device=visual.device), batch.labels], 1)
        return (out.logits[:, :-1], labels[:, start + 1 :], self.loss_mask(batch)[:, start + 1 :],
                out.hidden_states[-1], visual.shape[1])

    def forward(self, batch: VLABatch, generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """``{"loss", "token_loss", "flow_loss", "token_accuracy"}``; ``flow_loss`` is 0 when the
        batch has no action chunk. ``loss = token_loss + flow_loss_weight * flow_loss``."""
        logits, targets, mask, hidden, visual = self._run_targets(batch)
        logits, targets = logits[mask], targets[mask]
        token_loss = F.cross_entropy(logits.float(), targets)
        accuracy = (logits.argmax(-1) == targets).float().mean()
        flow_loss = torch.zeros((), device=token_loss.device)
        if batch.actions is not None:
            self.processor.check_chunk(batch.actions, "batch.actions")
            context = self._context(hidden, visual + batch.prompt_lengths)
            flow_loss = self.flow_head.loss(batch.actions.to(context.dtype), context, generator)
        loss = token_loss + self.config.flow_loss_weight * flow_loss
        return {"loss": loss, "token_loss": token_loss.detach(), "flow_loss": flow_loss.detach(),
                "token_accuracy": accuracy.detach()}

    def action_head_loss(self, batch: VLABatch, generator: torch.Generator | None = None) -> Tensor:
        """The flow head's loss alone, equal to ``forward``'s ``flow_loss``: the LM runs over the
        image, state and instruction positions only (the flow head reads no others, and a causal LM's
        prefix does not see what follows), so no reasoning or action token is computed."""
        if batch.actions is None:
            raise ConfigError("a batch without action chunks; the flow head's loss needs VLASample.actions")
        self.processor.check_chunk(batch.actions, "batch.actions")
        visual = self._visual_prefix(batch.frames, batch.state)
        prompt = int(batch.prompt_lengths.max())
        embeddings = torch.cat([visual, self.lm.get_input_embeddings()(batch.input_ids[:, :prompt])], dim=1)
        attention = torch.cat([torch.ones(visual.shape[:2], dtype=torch.bool, device=visual.device),
                               batch.attention_mask[:, :prompt]], dim=1)
        out = self.lm(inputs_embeds=embeddings, attention_mask=attention.long(), output_hidden_states=True,
                      logits_to_keep=1)
        context = self._context(out.hidden_states[-1], visual.shape[1] + batch.prompt_lengths)
        return self.flow_head.loss(batch.actions.to(context.dtype), context, generator)

    def token_log_probs(self, batch: VLABatch) -> tuple[Tensor, Tensor]:
        """``(log_probs, mask)``, both ``(B, M)``: the log-probability of every target token of
        ``batch`` (e.g. ``VLAProcessor.collate_generated``'s completions) under the policy, in
        float32, and which entries are targets (0 where not). GRPO's ratio and KL read them."""
        logits, targets, mask, _, _ = self._run_targets(batch)
        log_probs = torch.log_softmax(logits.float(), dim=-1).gather(-1, targets[..., None]).squeeze(-1)
        return torch.where(mask, log_probs, torch.zeros_like(log_probs)), mask

    def _prefix(self, observation: VLAObservation, copies: int) -> Tensor:
        """``(copies, P, width)`` prefix embeddings of one observation."""
        device = self.vision.position.device
        frames = torch.as_tensor(observation.frames, device=device)[None]
        state = None if observation.state is None else torch.as_tensor(observation.state, device=device)[None]
        ids = torch.tensor([self.processor.prompt_ids(observation.instruction)], device=device)
        prefix = torch.cat([self._visual_prefix(frames, state), self.lm.get_input_embeddings()(ids)], dim=1)
        return prefix.expand(copies, -1, -1)

    @torch.no_grad()
    def generate(
        self,
        observation: VLAObservation,
        max_new_tokens: int = 256,
        temperature: float = 0.0,
        num_samples: int = 1,
        generator: torch.Generator | None = None,
        allowed: Callable[[Sequence[Sequence[int]]], Tensor] | None = None,
    ) -> list[Completion]:
        """``num_samples`` completions of one observation: greedy at ``temperature`` 0, sampled
        otherwise; each stops at the end token or after ``max_new_tokens``. ``allowed`` (e.g.
        ``decoding_vla.FastGrammar``) maps the ids generated so far to a ``(num_samples, vocab)``
        bool mask of the ids that may come next (constrained decoding)."""
        out = self.lm(inputs_embeds=self._prefix(observation, num_samples), use_cache=True, logits_to_keep=1)
        eos = self.processor.codec.eos_id
        rows: list[list[int]] = [[] for _ in range(num_samples)]
        done = torch.zeros(num_samples, dtype=torch.bool, device=out.logits.device)
        for _ in range(max_new_tokens):
            logits = out.logits[:, -1].float()
            if allowed is not None:
                logits = logits.masked_fill(~allowed(rows).to(logits.device), float("-inf"))
            if temperature > 0:
                probabilities = torch.softmax(logits / temperature, dim=-1)
                token = torch.multinomial(probabilities.cpu(), 1, generator=generator).squeeze(1).to(logits.device)
            else:
                token = logits.argmax(-1)
            for row, value in zip(rows, token.tolist()):
                row.append(value)
            done |= token == eos
            if bool(done.all()):
                break
            out = self.lm(input_ids=token[:, None], cache=out.cache, use_cache=True)
        return [self.processor.parse(row) for row in rows]

    @torch.no_grad()
    def act_with_flow_head(
        self, observation: VLAObservation, num_samples: int = 1, generator: torch.Generator | None = None
    ) -> Tensor:
        """``(num_samples, H, A)`` normalised action chunks from the flow head (no text generated)."""
        prefix = self._prefix(observation, 1)
        hidden = self.lm(inputs_embeds=prefix, output_hidden_states=True, logits_to_keep=1).hidden_states[-1]
        context = self._context(hidden, torch.tensor([prefix.shape[1]], device=prefix.device))
        return self.flow_head.sample(context.expand(num_samples, -1), self.config.flow_steps, generator)


def new_vla_policy(config: VLAConfig, autoencoder: str | os.PathLike[str] | None) -> VLAPolicy:
    """A policy to train: the backbone's pretrained weights (random for ``tiny``) and, for
    ``vision="autoencoder"``, the frame autoencoder of the checkpoint folder ``autoencoder`` (e.g.
    ``checkpoints/autoencoder-cpu``); a ``"vit"`` policy starts its ViT at random and reads none."""
    policy = VLAPolicy(config, pretrained_backbone=True)
    if config.vision == "autoencoder":
        if autoencoder is None:
            raise ConfigError("a VLA policy with vision='autoencoder' needs an autoencoder checkpoint folder")
        trained = load_model(Autoencoder, autoencoder, expected_config=config.autoencoder)
        policy.vision.autoencoder.load_state_dict(trained.state_dict())
    return policy


def load_vla_policy(folder: str | os.PathLike[str], device: str | torch.device = "cpu") -> VLAPolicy:
    """The policy saved in checkpoint ``folder`` (``write_checkpoint``), in eval mode; the backbone
    architecture and tokenizer are read from the folder's ``assets/`` when it has them (every
    checkpoint of a transformers backbone written since they were added), else from the source
    its config names."""
    assets = Path(folder) / ASSETS_DIR
    config = read_config(folder, VLAConfig, VLAPolicy.model_type)
    policy = VLAPolicy(config, backbone_files=assets if assets.is_dir() else None).to(device)
    load_weights(policy, folder)
    return policy.eval()
