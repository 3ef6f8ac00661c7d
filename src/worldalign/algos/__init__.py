"""Training algorithms, one readable file each: pretraining, GRPO, DiffusionNFT, distillation, VLA."""
