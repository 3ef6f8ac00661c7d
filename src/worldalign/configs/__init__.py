"""Training configs in one place, and the named presets (``tiny``, ``cpu``, ``gpu``).

Each model family's own config sits beside its model (``models/<family>/configuration_<family>.py``,
as in LeRobot); this room holds what a training run adds to it (steps, batch, optimizer,
schedule, checkpointing) for every trainer (``pretrain``: the autoencoder and the world model,
``idm``, ``judge``, ``success``, ``vla_sft``, ``vla_grpo``, ``align``: the alignment loop, Flow-GRPO and
DiffusionNFT), and the presets that pair a model config with its training config.
"""
