"""worldalign: reward-aligned post-training of robot world models and VLA policies.

The package is organised as a house of rooms, lower ones never importing higher ones:
``envs`` (the simulator), ``data`` (episodes on disk), ``metrics`` (frame comparisons),
``models``, ``sampling``, ``rewards``, ``algos``, and ``cli`` on top.
"""

__version__ = "0.1.0"
