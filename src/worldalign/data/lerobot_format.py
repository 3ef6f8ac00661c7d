"""The names of the LeRobot v3.0 dataset layout, shared by our writer and reader.

Every path template, feature key and column name that appears on disk is spelled here once,
so the writer and the reader cannot drift apart. The layout itself is described in
``docs/LEROBOT_V3.md``; the ``privileged.*``, ``sim.*``, ``worldalign/*`` and ``sim/*`` names are
worldalign extras that a LeRobot user can ignore.
"""

from __future__ import annotations

from dataclasses import dataclass

CODEBASE_VERSION = "v3.0"

INFO_PATH = "meta/info.json"
STATS_PATH = "meta/stats.json"
TASKS_PATH = "meta/tasks.parquet"
EPISODES_PATH = "meta/episodes/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
EPISODES_GLOB = "meta/episodes/chunk-*/file-*.parquet"
DATA_PATH = "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
VIDEO_PATH = "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"

# Per-frame features.
IMAGE_PREFIX = "observation.images."
STATE = "observation.state"
ACTION = "action"
PRIVILEGED_PREFIX = "privileged."
SNAPSHOT = "sim.snapshot"
TIMESTAMP = "timestamp"
FRAME_INDEX = "frame_index"
EPISODE_INDEX = "episode_index"
INDEX = "index"
TASK_INDEX = "task_index"
# LeRobot always ends the feature list with these, in this order.
INDEX_FEATURES = (TIMESTAMP, FRAME_INDEX, EPISODE_INDEX, INDEX, TASK_INDEX)

# Per-episode columns of meta/episodes/*.parquet.
EP_INDEX = "episode_index"
EP_TASKS = "tasks"
EP_LENGTH = "length"
EP_DATA_CHUNK = "data/chunk_index"
EP_DATA_FILE = "data/file_index"
EP_FROM_INDEX = "dataset_from_index"
EP_TO_INDEX = "dataset_to_index"
EP_META_CHUNK = "meta/episodes/chunk_index"
EP_META_FILE = "meta/episodes/file_index"
EP_TASK_NAME = "worldalign/task_name"
EP_SUCCESS = "worldalign/success"
EP_LAYOUT = "sim/layout"
EP_METADATA = "worldalign/metadata"

# tasks.parquet: the task string is the pandas index; its on-disk column name varies by version.
TASK_INDEX_COLUMNS = ("task", "__index_level_0__")

# Statistic names of stats.json and of the per-episode ``stats/<feature>/<stat>`` columns.
STAT_COLUMN = "stats/{feature}/{stat}"


def video_key(view: str) -> str:
    """The feature key of camera ``view``: ``observation.images.<view>``."""
    return IMAGE_PREFIX + view


def view_name(key: str) -> str:
    """The camera name of a video feature key (the ``observation.images.`` prefix stripped)."""
    return key[len(IMAGE_PREFIX) :] if key.startswith(IMAGE_PREFIX) else key


def privileged_key(name: str) -> str:
    """The per-frame feature key of privileged field ``name``."""
    return PRIVILEGED_PREFIX + name


def video_column(key: str, field: str) -> str:
    """A per-camera column of meta/episodes: ``videos/<key>/<field>``.

    ``field`` is one of ``chunk_index``, ``file_index``, ``from_timestamp``, ``to_timestamp``.
    """
    return f"videos/{key}/{field}"


@dataclass(frozen=True, order=True)
class FileRef:
    """The (chunk, file) coordinates of one data, video or episodes file."""

    chunk_index: int = 0
    file_index: int = 0

    def next(self, chunks_size: int) -> FileRef:
        """The file after this one: a new chunk starts after ``chunks_size`` files."""
        if self.file_index + 1 >= chunks_size:
            return FileRef(self.chunk_index + 1, 0)
        return FileRef(self.chunk_index, self.file_index + 1)
