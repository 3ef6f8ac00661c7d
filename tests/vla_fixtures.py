"""A tiny Meta-World dataset with simulator state (what VLA SFT needs) and a FAST tokenizer fitted
on it, for the VLA SFT and evaluation tests.

At the root of tests/ (beside the root conftest, so on ``sys.path`` for every test file)."""

from __future__ import annotations

from pathlib import Path

from worldalign.data.lerobot_reader import LeRobotDataset
from worldalign.data.lerobot_writer import LeRobotWriter
from worldalign.data.types import Episode
from worldalign.envs.cameras import DEFAULT_VIEWS
from worldalign.envs.recorder import record_episode
from worldalign.stages.vla_tokenizer import fit_action_tokenizer

AUTOENCODER = Path(__file__).resolve().parents[1] / "checkpoints" / "autoencoder-cpu"
HORIZON, STEPS = 4, 16


def metaworld_episodes() -> list[Episode]:
    """Two 16-step noisy expert episodes of reach-v3, 64 px, the VLA's three views."""
    return [record_episode("reach-v3", seed=seed, noise=0.2, max_steps=STEPS) for seed in (1, 2)]


def write_episodes(root: Path, episodes: list[Episode]) -> Path:
    with LeRobotWriter(root, fps=40, views=DEFAULT_VIEWS, image_size=(64, 64), action_dim=4, state_dim=4) as writer:
        for episode in episodes:
            writer.add_episode(episode)
    return root


def vla_dataset_and_tokenizer(root: Path) -> tuple[Path, Path]:
    """``(dataset folder, FAST tokenizer folder)`` under ``root`` (horizon 4, scale 10)."""
    dataset = write_episodes(root / "data", metaworld_episodes())
    fit_action_tokenizer(LeRobotDataset(dataset), root / "fast", horizon=HORIZON, vocab_size=64)
    return dataset, root / "fast"
