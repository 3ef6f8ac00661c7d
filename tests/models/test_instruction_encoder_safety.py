"""The instruction encoder loads its transformer from safetensors only (no pickle), and a corrupt
embedding cache is recomputed with a warning, never a traceback."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from worldalign.models.text import InstructionEncoder


class Stop(Exception):
    """Ends the test before a real model loads."""


def test_the_transformer_is_loaded_from_safetensors_only(monkeypatch: pytest.MonkeyPatch) -> None:
    import transformers

    seen: dict[str, Any] = {}

    def record(folder: object, **kwargs: Any) -> None:
        seen.update(kwargs)
        raise Stop

    monkeypatch.setattr(transformers.AutoModel, "from_pretrained", record)
    with pytest.raises(Stop):
        InstructionEncoder().encode(["open the drawer"])
    assert seen["use_safetensors"] is True and seen["local_files_only"] is True


def test_a_corrupt_cache_is_ignored_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cache = tmp_path / "embeddings.safetensors"
    cache.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all")
    with caplog.at_level(logging.WARNING):
        encoder = InstructionEncoder(cache_file=cache)
    assert encoder._cache == {}
    assert any("unreadable instruction cache" in record.getMessage() for record in caplog.records)
