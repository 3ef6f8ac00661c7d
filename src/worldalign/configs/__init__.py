"""Frozen dataclass configs of the models and their training, and the named presets.

This room imports nothing above ``errors``/``utils``: models, samplers and algorithms read
their configs from here.
"""
