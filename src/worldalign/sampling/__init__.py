"""Sampling from flow-matching world models: the shared flow maths, ODE/SDE samplers with
log-probabilities, classifier-free guidance, and autoregressive rollouts with context policies
(full history, fixed window, Sliding Window Re-encoding)."""
