"""Episodes on disk and in memory: the ``Episode``/``ClipBatch`` types, the LeRobot v3 reader
and writer, clip sampling, normalisation statistics.

Modules (imported directly; this package re-exports nothing so importing the types stays cheap):

- ``types``: ``Episode``, ``ClipBatch``, ``PRIVILEGED_FIELDS``.
- ``video``: mp4 encode (lossless or H.264) and timestamp-addressed decoding (H.264, AV1).
- ``lerobot_format``: the path templates, feature keys and column names of LeRobot v3.0.
- ``lerobot_writer``: ``LeRobotWriter``, episodes -> a LeRobot v3.0 dataset.
- ``lerobot_reader``: ``LeRobotDataset``, any LeRobot v3.0 dataset -> validated ``Episode``s.
- ``episode_file``: ``save_episode``/``load_episode``, one episode per safetensors file.
- ``stats``: incremental feature statistics (stats.json) and the ``Normalizer``.
- ``frame_cache``: episodes decoded once into contiguous arrays.
- ``clips``: ``ClipSampler`` (training windows as ``ClipBatch``) and ``split_episodes``.
- ``action_chunks``: every window of H normalised actions of a dataset (parquet only).
- ``fast_tokenizer``: ``FastActionTokenizer``, action chunks <-> FAST token ids (DCT + BPE).
"""
