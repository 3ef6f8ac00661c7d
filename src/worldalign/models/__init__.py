"""Model families, one folder each; ``checkpoint`` saves and loads any of them as a folder.

World-model core: ``autoencoder`` (frames ⇄ latents), ``world_model`` (latent flow-matching video
predictor), ``text`` (instruction encoder); their configs live in ``worldalign.configs`` beside
the named presets that pair them. Beside it: ``idm`` (inverse dynamics), ``judge`` (video judges),
``vla`` (the vision-language-action policy, configured in its own ``configuration_vla``),
``success`` (a success classifier trained on the simulator's labels).
"""
