"""The instruction encoder: offline MiniLM sentence embeddings, cached per instruction."""

from worldalign.models.text.instruction_encoder import EMBEDDING_DIM, InstructionEncoder

__all__ = ["EMBEDDING_DIM", "InstructionEncoder"]
