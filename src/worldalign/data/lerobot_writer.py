"""Writes ``Episode``s as a LeRobot v3.0 dataset (layout: ``docs/LEROBOT_V3.md``).

Episodes are appended to the current data parquet and to the current mp4 of each camera; a
file is closed once it reaches its size limit and the next episode starts a new one, so an
episode is never split across files. Every file is written atomically, and
``meta/info.json`` is written last by ``finalize()``: a folder without it is an unfinished
dataset.

worldalign extras that LeRobot ignores: per-frame ``privileged.<name>`` and ``sim.snapshot``
features, and per-episode ``worldalign/task_name``, ``worldalign/success``, ``sim/layout``,
``worldalign/metadata`` columns in ``meta/episodes``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from types import TracebackType

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from worldalign.data import lerobot_format as fmt
from worldalign.data.stats import StatsAccumulator, save_stats
from worldalign.data.types import Episode
from worldalign.data.video import Mp4Writer, VideoEncoding
from worldalign.errors import ConfigError, DatasetError
from worldalign.utils.atomic import atomic_path, atomic_write_json

_MB = 1024**2
_DATASET_FOLDERS = ("meta", "data", "videos")


class LeRobotWriter:
    """Writes episodes of fixed cameras, image size and action/state sizes to a new dataset.

    Use as a context manager (``finalize()`` on success, ``abort()`` on an exception) or call
    ``finalize()`` yourself. The privileged fields of the first episode fix those of the
    dataset, and so does its snapshot size unless ``snapshot_dim`` is given.

    ``snapshot_dim``: width of the ``sim.snapshot`` column. Simulator states of different
    tasks differ in size (Meta-World: 329 to 372 values), so a dataset of several tasks stores
    them at the widest size, narrower rows padded with NaN at the end (a real state holds no
    NaN, so the padding is unambiguous).
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        fps: int,
        views: tuple[str, ...] | list[str],
        image_size: tuple[int, int],
        action_dim: int,
        state_dim: int,
        robot_type: str = "sawyer",
        lossless: bool = True,
        crf: int = 23,
        data_files_size_in_mb: float = 100,
        video_files_size_in_mb: float = 200,
        chunks_size: int = 1000,
        snapshot_dim: int | None = None,
    ) -> None:
        self.root = Path(root)
        # Other files may live beside a dataset (e.g. a generator's staging folder); its own may not.
        existing = [name for name in _DATASET_FOLDERS if (self.root / name).exists()]
        if existing:
            raise DatasetError(
                f"{self.root}: already holds dataset folder(s) {existing}; LeRobotWriter writes a new dataset, "
                "choose a folder without meta/, data/ or videos/"
            )
        self.views = tuple(views)
        self.image_size = (int(image_size[0]), int(image_size[1]))
        _check_config(
            fps,
            self.views,
            self.image_size,
            action_dim,
            state_dim,
            data_files_size_in_mb,
            video_files_size_in_mb,
            chunks_size,
        )
        self.fps = fps
        self.action_dim = action_dim
        self.state_dim = state_dim
        self.robot_type = robot_type
        self.data_files_size_in_mb = data_files_size_in_mb
        self.video_files_size_in_mb = video_files_size_in_mb
        self.chunks_size = chunks_size
        self.encoding = VideoEncoding(lossless=lossless, crf=crf)
        self.encoding.check_size(*self.image_size)

        self._tasks: dict[str, int] = {}  # instruction -> task_index
        self._episode_rows: list[dict[str, object]] = []
        self._stats = StatsAccumulator()
        self._total_frames = 0
        # Fixed by the first episode: privileged field -> per-step size, snapshot size.
        self._privileged_dims: dict[str, int] | None = None
        self._snapshot_dim = snapshot_dim
        self._data_ref = fmt.FileRef()
        self._data_tables: list[pa.Table] = []
        self._data_bytes = 0
        self._video_refs = {view: fmt.FileRef() for view in self.views}
        self._videos: dict[str, Mp4Writer] = {}
        self._closed = False

    def __enter__(self) -> LeRobotWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is not None:
            self.abort()
        elif not self._closed:
            self.finalize()

    @property
    def num_episodes(self) -> int:
        """Episodes added so far."""
        return len(self._episode_rows)

    def add_episode(self, episode: Episode) -> int:
        """Append ``episode``; returns its episode index. Checks it fully before writing."""
        self._check_open()
        index = len(self._episode_rows)
        privileged_dims, snapshot_dim = self._check_episode(episode, index)
        if self._privileged_dims is None:
            self._privileged_dims = privileged_dims
            if self._snapshot_dim is None:
                self._snapshot_dim = snapshot_dim
        task_index = self._tasks.setdefault(episode.instruction, len(self._tasks))
        frames = self._frame_table(episode, index, task_index)
        data_ref = self._append_data(frames)
        row: dict[str, object] = {
            fmt.EP_INDEX: index,
            fmt.EP_TASKS: [episode.instruction],
            fmt.EP_LENGTH: episode.length,
            fmt.EP_DATA_CHUNK: data_ref.chunk_index,
            fmt.EP_DATA_FILE: data_ref.file_index,
            fmt.EP_FROM_INDEX: self._total_frames,
            fmt.EP_TO_INDEX: self._total_frames + episode.length,
        }
        for view, view_frames in zip(episode.views, episode.frames, strict=True):
            key = fmt.video_key(view)
            video_ref, start, end = self._append_video(view, view_frames)
            row[fmt.video_column(key, "chunk_index")] = video_ref.chunk_index
            row[fmt.video_column(key, "file_index")] = video_ref.file_index
            row[fmt.video_column(key, "from_timestamp")] = start
            row[fmt.video_column(key, "to_timestamp")] = end
        episode_stats = StatsAccumulator(quantiles=self._stats.quantiles)
        episode_stats.add_episode(episode)
        for name in fmt.INDEX_FEATURES:
            episode_stats.add(name, frames.column(name).to_numpy())
        for feature, stats in episode_stats.result().items():
            for stat, value in stats.items():
                row[fmt.STAT_COLUMN.format(feature=feature, stat=stat)] = value.tolist()
        row |= {
            fmt.EP_META_CHUNK: 0,
            fmt.EP_META_FILE: 0,
            fmt.EP_TASK_NAME: episode.task,
            fmt.EP_SUCCESS: None if episode.success is None else bool(episode.success),
            fmt.EP_LAYOUT: None if episode.layout is None else np.asarray(episode.layout, np.float64).tolist(),
            fmt.EP_METADATA: json.dumps(episode.metadata),
        }
        self._stats.merge(episode_stats)
        self._episode_rows.append(row)
        self._total_frames += episode.length
        return index

    def finalize(self) -> None:
        """Close the open files and write the metadata, ``meta/info.json`` last."""
        self._check_open()
        if not self._episode_rows:
            raise DatasetError(f"{self.root}: finalize() with no episodes; add at least one episode first")
        for writer in self._videos.values():
            writer.close()
        self._videos.clear()
        self._flush_data()
        self._write_parquet(fmt.EPISODES_PATH.format(chunk_index=0, file_index=0), self._episodes_table())
        tasks = pd.DataFrame(
            {fmt.TASK_INDEX: list(self._tasks.values())}, index=pd.Index(list(self._tasks), name="task")
        )
        with atomic_path(self.root / fmt.TASKS_PATH) as tmp:
            tasks.to_parquet(tmp, write_page_checksum=True)
        save_stats(self.root / fmt.STATS_PATH, self._stats.result())
        atomic_write_json(self.root / fmt.INFO_PATH, self._info())
        self._closed = True

    def abort(self) -> None:
        """Stop writing: unfinished files are discarded and no ``meta/info.json`` is written."""
        for writer in self._videos.values():
            writer.abort()
        self._videos.clear()
        self._data_tables.clear()
        self._closed = True

    def _check_open(self) -> None:
        if self._closed:
            raise DatasetError(f"{self.root}: the writer is finalized or aborted; open a new LeRobotWriter")

    def _check_episode(self, episode: Episode, index: int) -> tuple[dict[str, int], int | None]:
        """Raise ``DatasetError`` unless ``episode`` fits the dataset; returns its privileged
        field sizes and snapshot size."""
        episode.validate()
        where = f"{self.root}: episode {index} (task {episode.task!r})"
        if episode.views != self.views:
            raise DatasetError(
                f"{where}: views {episode.views}, expected {self.views} (the writer's views, in this order)"
            )
        if episode.frames.shape[2:4] != self.image_size:
            raise DatasetError(
                f"{where}: frames are {episode.frames.shape[2:4]} pixels, expected image_size {self.image_size}"
            )
        if episode.length == 0:
            raise DatasetError(f"{where}: has no frames; expected at least 1")
        if episode.actions.shape[1] != self.action_dim:
            raise DatasetError(
                f"{where}: actions have {episode.actions.shape[1]} dimensions, expected action_dim={self.action_dim}"
            )
        if episode.state.shape[1] != self.state_dim:
            raise DatasetError(
                f"{where}: state has {episode.state.shape[1]} dimensions, expected state_dim={self.state_dim}"
            )
        if episode.fps != self.fps:
            raise DatasetError(f"{where}: fps {episode.fps}, expected the dataset's fps={self.fps}")
        privileged_dims = {}
        for name, values in episode.privileged.items():
            if values.ndim not in (1, 2):
                raise DatasetError(f"{where}: privileged[{name!r}] has shape {values.shape}, expected (T,) or (T, D)")
            privileged_dims[name] = 1 if values.ndim == 1 else values.shape[1]
        snapshot_dim = None if episode.snapshots is None else int(episode.snapshots.shape[1])
        if self._privileged_dims is not None and privileged_dims != self._privileged_dims:
            raise DatasetError(
                f"{where}: privileged fields {privileged_dims}, expected {self._privileged_dims} as in episode 0"
            )
        if self._snapshot_dim is not None and (snapshot_dim is None or snapshot_dim > self._snapshot_dim):
            raise DatasetError(
                f"{where}: snapshot size {snapshot_dim}, expected at most the dataset's snapshot_dim={self._snapshot_dim}"
            )
        if episode.layout is not None and np.asarray(episode.layout).ndim != 1:
            raise DatasetError(f"{where}: layout has shape {np.asarray(episode.layout).shape}, expected (L,)")
        try:
            json.dumps(episode.metadata)
        except TypeError as error:
            raise DatasetError(f"{where}: metadata must be JSON-serialisable: {error}") from error
        return privileged_dims, snapshot_dim

    def _frame_table(self, episode: Episode, index: int, task_index: int) -> pa.Table:
        """One row per frame, the columns of ``_features()`` that are not videos, in order."""
        n = episode.length
        columns: dict[str, pa.Array] = {
            fmt.STATE: _vectors(episode.state, pa.float32()),
            fmt.ACTION: _vectors(episode.actions, pa.float32()),
        }
        for name in self._privileged_dims or {}:  # the dataset's order, whatever the episode's dict order
            values = np.asarray(episode.privileged[name], np.float32).reshape(n, -1)
            # LeRobot stores shape-[1] features as plain scalars, not one-element lists.
            key = fmt.privileged_key(name)
            columns[key] = pa.array(values[:, 0]) if values.shape[1] == 1 else _vectors(values, pa.float32())
        if episode.snapshots is not None:
            padding = ((0, 0), (0, self._snapshot_dim - episode.snapshots.shape[1]))
            padded = np.pad(episode.snapshots.astype(np.float64), padding, constant_values=np.nan)
            columns[fmt.SNAPSHOT] = _vectors(padded, pa.float64())
        frame_index = np.arange(n, dtype=np.int64)
        columns[fmt.TIMESTAMP] = pa.array((frame_index / self.fps).astype(np.float32))
        columns[fmt.FRAME_INDEX] = pa.array(frame_index)
        columns[fmt.EPISODE_INDEX] = pa.array(np.full(n, index, np.int64))
        columns[fmt.INDEX] = pa.array(self._total_frames + frame_index)
        columns[fmt.TASK_INDEX] = pa.array(np.full(n, task_index, np.int64))
        return pa.table(columns)

    def _append_data(self, table: pa.Table) -> fmt.FileRef:
        if self._data_tables and self._data_bytes >= self.data_files_size_in_mb * _MB:
            self._flush_data()
            self._data_ref = self._data_ref.next(self.chunks_size)
        self._data_tables.append(table)
        # In-memory Arrow size: the parquet file comes out smaller (compressed).
        self._data_bytes += table.nbytes
        return self._data_ref

    def _flush_data(self) -> None:
        if self._data_tables:
            path = fmt.DATA_PATH.format(chunk_index=self._data_ref.chunk_index, file_index=self._data_ref.file_index)
            self._write_parquet(path, pa.concat_tables(self._data_tables))
        self._data_tables = []
        self._data_bytes = 0

    def _append_video(self, view: str, frames: np.ndarray) -> tuple[fmt.FileRef, float, float]:
        writer = self._videos.get(view)
        # size_bytes lags the encoder's lookahead (~40 frames lossy): files end slightly past the limit.
        if writer is not None and writer.size_bytes >= self.video_files_size_in_mb * _MB:
            writer.close()
            writer = None
            self._video_refs[view] = self._video_refs[view].next(self.chunks_size)
        ref = self._video_refs[view]
        if writer is None:
            path = fmt.VIDEO_PATH.format(
                video_key=fmt.video_key(view), chunk_index=ref.chunk_index, file_index=ref.file_index
            )
            writer = Mp4Writer(
                self.root / path,
                fps=self.fps,
                height=self.image_size[0],
                width=self.image_size[1],
                encoding=self.encoding,
            )
            self._videos[view] = writer
        start, end = writer.append(frames)
        return ref, start, end

    def _write_parquet(self, relative_path: str, table: pa.Table) -> None:
        """Write ``table`` atomically, with page checksums (CRC32) that readers verify, so a
        corrupted byte in the values is an error rather than another number."""
        with atomic_path(self.root / relative_path) as tmp:
            pq.write_table(table, tmp, write_page_checksum=True)

    def _episodes_table(self) -> pa.Table:
        names = list(self._episode_rows[0])
        # Explicit types where a column may be all-null (success, layout) or empty lists.
        types = {
            fmt.EP_TASKS: pa.list_(pa.string()),
            fmt.EP_SUCCESS: pa.bool_(),
            fmt.EP_LAYOUT: pa.list_(pa.float64()),
            fmt.EP_METADATA: pa.string(),
            fmt.EP_TASK_NAME: pa.string(),
        }
        return pa.table(
            {name: pa.array([row[name] for row in self._episode_rows], type=types.get(name)) for name in names}
        )

    def _features(self) -> dict[str, dict[str, object]]:
        height, width = self.image_size
        features: dict[str, dict[str, object]] = {}
        for view in self.views:
            features[fmt.video_key(view)] = {
                "dtype": "video",
                "shape": [height, width, 3],
                "names": ["height", "width", "channels"],
                "info": self.encoding.feature_info(height=height, width=width, fps=self.fps),
            }
        features[fmt.STATE] = {"dtype": "float32", "shape": [self.state_dim], "names": None}
        features[fmt.ACTION] = {"dtype": "float32", "shape": [self.action_dim], "names": None}
        for name, dim in (self._privileged_dims or {}).items():
            features[fmt.privileged_key(name)] = {"dtype": "float32", "shape": [dim], "names": None}
        if self._snapshot_dim is not None:
            features[fmt.SNAPSHOT] = {"dtype": "float64", "shape": [self._snapshot_dim], "names": None}
        features[fmt.TIMESTAMP] = {"dtype": "float32", "shape": [1], "names": None}
        for name in fmt.INDEX_FEATURES[1:]:
            features[name] = {"dtype": "int64", "shape": [1], "names": None}
        return features

    def _info(self) -> dict[str, object]:
        return {
            "codebase_version": fmt.CODEBASE_VERSION,
            "robot_type": self.robot_type,
            "total_episodes": len(self._episode_rows),
            "total_frames": self._total_frames,
            "total_tasks": len(self._tasks),
            "chunks_size": self.chunks_size,
            "data_files_size_in_mb": self.data_files_size_in_mb,
            "video_files_size_in_mb": self.video_files_size_in_mb,
            "fps": self.fps,
            "splits": {"train": f"0:{len(self._episode_rows)}"},
            "data_path": fmt.DATA_PATH,
            "video_path": fmt.VIDEO_PATH,
            "features": self._features(),
        }


def _vectors(values: np.ndarray, value_type: pa.DataType) -> pa.FixedSizeListArray:
    """``(T, D)`` -> a fixed-size-list column of length T."""
    values = np.ascontiguousarray(values, dtype=value_type.to_pandas_dtype())
    return pa.FixedSizeListArray.from_arrays(pa.array(values.reshape(-1), type=value_type), values.shape[1])


def _check_config(
    fps: int,
    views: tuple[str, ...],
    image_size: tuple[int, int],
    action_dim: int,
    state_dim: int,
    data_mb: float,
    video_mb: float,
    chunks_size: int,
) -> None:
    """Raise ``ConfigError`` naming the first argument out of range."""
    checks = [
        (isinstance(fps, int) and fps > 0, f"fps={fps!r}: expected a positive int"),
        (
            len(views) > 0 and len(set(views)) == len(views),
            f"views={views}: expected distinct camera names, at least one",
        ),
        (min(image_size) > 0, f"image_size={image_size}: expected positive (height, width)"),
        (action_dim > 0, f"action_dim={action_dim}: expected a positive int"),
        (state_dim > 0, f"state_dim={state_dim}: expected a positive int"),
        (data_mb > 0, f"data_files_size_in_mb={data_mb}: expected > 0"),
        (video_mb > 0, f"video_files_size_in_mb={video_mb}: expected > 0"),
        (chunks_size > 0, f"chunks_size={chunks_size}: expected a positive int"),
    ]
    for ok, message in checks:
        if not ok:
            raise ConfigError(f"LeRobotWriter: {message}")
