"""The run folder: its layout and every reader and writer of it.

A training run's ``--out`` folder holds ``checkpoints/step_NNNNNNN/`` (resumable), ``model/`` (the
final weights + config), ``tensorboard/``, ``previews/`` and the side files a world model needs
wherever it goes (``action_normalizer.json``, ``instruction_embeddings.safetensors``). An
exported model folder holds the weights, the config and the same side files. Nothing outside this
room knows these names: stages read and write a run through ``layout``, ``side_files`` and
``loading``.
"""
