"""One library call per stage, from paths and a config to a finished run folder.

Each module is what one verb of the command line does, callable from Python (docs/python_api.md):
``pretrain`` (the autoencoder, the world model), ``latents`` (encode a dataset once), ``align``,
``rollout``, ``evaluate`` (several world models on the same starts), ``score`` (rewards of
recorded episodes), ``export`` (a model to ship), ``vla_tokenizer``, ``vla_eval``, ``reproduce`` and ``results_page`` (a
paper's effect over training seeds, and docs/results.md).
"""
