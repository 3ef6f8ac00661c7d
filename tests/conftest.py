"""Select the headless GL backend before any test module imports mujoco (it reads MUJOCO_GL once).

At the root of tests/ so that it holds for every test file, whichever imports mujoco first.
"""

import worldalign.envs  # noqa: F401
