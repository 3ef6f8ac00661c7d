"""Reads any LeRobot v3.0 dataset (ours or not) as ``Episode``s, after checking it is whole.

Opening validates everything that can be checked without decoding video: ``meta/info.json``,
the episodes table, that every data and video file it references exists and opens, that
feature declarations match the parquet columns, and that frame counts agree between
``info.json``, ``meta/episodes`` and the data rows. Decoding checks the rest (frame counts
and timestamps of the videos). Each inconsistency is a ``DatasetError`` naming the file, the
field and what was expected.

Parquet pages are read with checksum verification: a file written with page checksums (ours
are) whose values were corrupted is a ``DatasetError``, not a silently different number.

Variants accepted (``docs/LEROBOT_V3.md``): tasks.parquet's string column ``task`` or
``__index_level_0__``; video ``info`` or ``video_info``; any key order; fixed-size or plain
lists; several episodes files.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from worldalign.data import lerobot_format as fmt
from worldalign.data.stats import Stats, load_stats
from worldalign.data.types import Episode
from worldalign.errors import ConfigError, DatasetError

if TYPE_CHECKING:  # decoding imports PyAV only when a video is read: latent-only training runs without it
    from worldalign.data.video import Mp4Reader

_REQUIRED_INFO_KEYS = ("codebase_version", "fps", "features", "data_path", "total_episodes", "total_frames")
_REQUIRED_EPISODE_COLUMNS = (fmt.EP_INDEX, fmt.EP_TASKS, fmt.EP_LENGTH, fmt.EP_DATA_CHUNK, fmt.EP_DATA_FILE)
_VIDEO_COLUMNS = ("chunk_index", "file_index", "from_timestamp")
_OPTIONAL_EPISODE_COLUMNS = (fmt.EP_TASK_NAME, fmt.EP_SUCCESS, fmt.EP_LAYOUT, fmt.EP_METADATA)
# What pyarrow raises on a damaged parquet: its own errors, I/O errors, and ValueError (among them
# UnicodeDecodeError) from metadata whose text was corrupted.
_PARQUET_ERRORS = (pa.ArrowException, OSError, ValueError)


@dataclass(frozen=True)
class _EpisodeRecord:
    """Where one episode lives and its per-episode facts (from meta/episodes)."""

    index: int
    length: int
    instruction: str
    task_name: str
    success: bool | None
    layout: np.ndarray | None
    metadata: dict[str, object]
    data_path: Path
    row_start: int  # first row of the episode in its data file
    videos: dict[str, tuple[Path, float]]  # video key -> (mp4, from_timestamp)


class LeRobotDataset:
    """A LeRobot v3.0 dataset on disk, validated on open.

    Attributes:
        root: the dataset folder.
        info: the parsed ``meta/info.json``.
        features: ``info["features"]``.
        fps: frames per second.
        views: camera names (video feature keys without ``observation.images.``).
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.info = self._load_info()
        self.features: dict[str, dict[str, Any]] = self.info["features"]
        self.fps = self._fps()
        self._video_keys = [key for key, feature in self.features.items() if feature.get("dtype") == "video"]
        self.views = tuple(fmt.view_name(key) for key in self._video_keys)
        self._check_features()
        self._check_tasks()
        self._records = self._load_episodes()
        self._check_videos()
        self._stats: Stats | None = None

    # -- facts ---------------------------------------------------------------------------

    @property
    def num_episodes(self) -> int:
        """Number of episodes."""
        return len(self._records)

    @property
    def total_frames(self) -> int:
        """Number of frames over all episodes."""
        return int(sum(record.length for record in self._records))

    @property
    def action_dim(self) -> int:
        """Size of the ``action`` vector."""
        return int(np.prod(self.features[fmt.ACTION]["shape"]))

    @property
    def state_dim(self) -> int:
        """Size of ``observation.state`` (0 if the dataset has none)."""
        feature = self.features.get(fmt.STATE)
        return 0 if feature is None else int(np.prod(feature["shape"]))

    @property
    def episode_lengths(self) -> np.ndarray:
        """``(num_episodes,)`` int64 frame counts."""
        return np.array([record.length for record in self._records], dtype=np.int64)

    @property
    def instructions(self) -> list[str]:
        """The instruction (LeRobot "task") of each episode."""
        return [record.instruction for record in self._records]

    @property
    def task_names(self) -> list[str]:
        """The task name of each episode: ``worldalign/task_name``, else the instruction."""
        return [record.task_name for record in self._records]

    def episode_task(self, index: int) -> str:
        """Task name of episode ``index``, without decoding it."""
        return self._records[self._check_index(index)].task_name

    def episode_success(self, index: int) -> bool | None:
        """Whether episode ``index`` succeeded; None when the dataset does not record it."""
        return self._records[self._check_index(index)].success

    def episodes_by_task(self) -> dict[str, list[int]]:
        """Episode indices of each task name, tasks in order of first appearance."""
        groups: dict[str, list[int]] = {}
        for record in self._records:
            groups.setdefault(record.task_name, []).append(record.index)
        return groups

    @property
    def stats(self) -> Stats:
        """``meta/stats.json`` as ``{feature: {stat: array}}``."""
        if self._stats is None:
            self._stats = load_stats(self.root / fmt.STATS_PATH)
        return self._stats

    def image_size(self, view: str) -> tuple[int, int]:
        """``(height, width)`` of camera ``view``."""
        return _image_size(self.features[self._video_key(view)])

    # -- episodes ------------------------------------------------------------------------

    def episode(self, index: int, views: Sequence[str] | None = None) -> Episode:
        """Episode ``index`` with cameras ``views`` (default: all, in dataset order)."""
        return next(self.iter_episodes([index], views))

    def iter_episodes(
        self, indices: Iterable[int] | None = None, views: Sequence[str] | None = None
    ) -> Iterator[Episode]:
        """Episodes ``indices`` (default: all) in the order given.

        Each data file and each mp4 is decoded once when episodes are requested in file order
        (increasing indices): consecutive episodes continue the same decoder.
        """
        keys = [self._video_key(view) for view in (self.views if views is None else views)]
        if not keys:
            raise ConfigError(f"{self.root}: no camera requested; the dataset has views {self.views}")
        sizes = {key: _image_size(self.features[key]) for key in keys}
        if len(set(sizes.values())) > 1:
            raise ConfigError(
                f"{self.root}: cameras of different sizes {sizes} cannot share one Episode; request them separately"
            )
        order = list(range(self.num_episodes)) if indices is None else [self._check_index(i) for i in indices]
        from worldalign.data.video import Mp4Reader

        tables: dict[Path, pa.Table] = {}  # the current data file only
        readers: dict[str, Mp4Reader] = {}  # video key -> reader of its current mp4
        try:
            for i in order:
                record = self._records[i]
                if record.data_path not in tables:
                    tables = {record.data_path: self._read_data_file(record.data_path)}
                rows = tables[record.data_path].slice(record.row_start, record.length)
                timestamps = self._column(rows, fmt.TIMESTAMP, record).reshape(-1).astype(np.float64)
                frames = []
                for key in keys:
                    path, from_timestamp = record.videos[key]
                    if key not in readers or readers[key].path != path:
                        if key in readers:
                            readers.pop(key).close()
                        readers[key] = Mp4Reader(path)
                    frames.append(self._read_frames(readers[key], from_timestamp + timestamps, record, key, sizes[key]))
                yield self._episode(record, rows, tuple(fmt.view_name(key) for key in keys), np.stack(frames))
        finally:
            for reader in readers.values():
                reader.close()

    def iter_actions(self, indices: Iterable[int] | None = None) -> Iterator[np.ndarray]:
        """The ``(T, A)`` float32 actions of episodes ``indices`` (default: all) in the order given,
        read from the parquet ``action`` column alone: no video is opened or decoded."""
        order = list(range(self.num_episodes)) if indices is None else [self._check_index(i) for i in indices]
        tables: dict[Path, pa.Table] = {}  # the current data file's action column only
        for i in order:
            record = self._records[i]
            if record.data_path not in tables:
                tables = {record.data_path: self._read_data_file(record.data_path, columns=[fmt.ACTION])}
            rows = tables[record.data_path].slice(record.row_start, record.length)
            yield self._column(rows, fmt.ACTION, record).reshape(record.length, -1).astype(np.float32)

    def _episode(self, record: _EpisodeRecord, rows: pa.Table, views: tuple[str, ...], frames: np.ndarray) -> Episode:
        n = record.length
        privileged = {
            name[len(fmt.PRIVILEGED_PREFIX) :]: self._column(rows, name, record).reshape(n, -1).astype(np.float32)
            for name in self.features
            if name.startswith(fmt.PRIVILEGED_PREFIX)
        }
        state = (
            self._column(rows, fmt.STATE, record).astype(np.float32)
            if fmt.STATE in self.features
            else np.zeros((n, 0), np.float32)
        )
        snapshots = (
            self._column(rows, fmt.SNAPSHOT, record).astype(np.float64) if fmt.SNAPSHOT in self.features else None
        )
        return Episode(
            task=record.task_name,
            instruction=record.instruction,
            views=views,
            frames=frames,
            actions=self._column(rows, fmt.ACTION, record).reshape(n, -1).astype(np.float32),
            state=state.reshape(n, -1),
            privileged=privileged,
            success=record.success,
            fps=self.fps,
            snapshots=None if snapshots is None else snapshots.reshape(n, -1),
            layout=record.layout,
            metadata=record.metadata,
        )

    def _read_frames(
        self, reader: Mp4Reader, times: np.ndarray, record: _EpisodeRecord, key: str, size: tuple[int, int]
    ) -> np.ndarray:
        try:
            frames = reader.read(times)
        except DatasetError as error:
            raise DatasetError(f"episode {record.index}, {key}: {error}") from error
        if frames.shape[1:3] != size:
            raise DatasetError(
                f"{reader.path}: frames of episode {record.index} are {frames.shape[1:3]}, "
                f"meta/info.json feature {key!r} says {size}"
            )
        return frames

    def _column(self, rows: pa.Table, name: str, record: _EpisodeRecord) -> np.ndarray:
        """Column ``name`` of ``rows`` as ``(T, *shape)``; nulls and wrong list sizes are errors."""
        where = f"{record.data_path}: column {name!r} of episode {record.index}"
        shape = tuple(self.features[name]["shape"])
        size = int(np.prod(shape))
        column = rows.column(name).combine_chunks()
        if column.null_count:
            raise DatasetError(
                f"{where}: {column.null_count} of {len(column)} rows are null; expected a value in every row "
                f"(as many {name} values as the {record.length} frames)"
            )
        if (
            pa.types.is_list(column.type)
            or pa.types.is_large_list(column.type)
            or pa.types.is_fixed_size_list(column.type)
        ):
            lengths = np.unique(pc.list_value_length(column).to_numpy(zero_copy_only=False))
            if len(lengths) and (len(lengths) > 1 or lengths[0] != size):
                raise DatasetError(
                    f"{where}: lists of length {lengths.tolist()}, expected {size} (feature shape {list(shape)})"
                )
            values = column.flatten().to_numpy(zero_copy_only=False)
        else:
            if size != 1:
                raise DatasetError(f"{where}: scalar column, expected lists of {size} (feature shape {list(shape)})")
            values = column.to_numpy(zero_copy_only=False)
        return values.reshape(len(column), *shape)

    def _read_data_file(self, path: Path, columns: list[str] | None = None) -> pa.Table:
        try:
            return pq.read_table(path, columns=columns, page_checksum_verification=True)
        except _PARQUET_ERRORS as error:
            raise DatasetError(f"{path}: cannot read the data parquet (truncated or corrupt): {error}") from error

    def _video_key(self, view: str) -> str:
        key = fmt.video_key(view)
        if key not in self._video_keys:
            raise ConfigError(f"camera {view!r} is not in {self.root}; its cameras are {list(self.views)}")
        return key

    def _check_index(self, index: int) -> int:
        if not 0 <= index < self.num_episodes:
            raise ConfigError(
                f"episode index {index} out of range: {self.root} has episodes 0..{self.num_episodes - 1}"
            )
        return int(index)

    # -- validation on open --------------------------------------------------------------

    def _load_info(self) -> dict[str, Any]:
        if not self.root.is_dir():
            what = "is a file" if self.root.exists() else "does not exist"
            raise DatasetError(f"{self.root}: the dataset folder {what}; expected a LeRobot v3 dataset folder")
        path = self.root / fmt.INFO_PATH
        if not path.is_file():
            raise DatasetError(
                f"{path}: not found; a LeRobot v3 dataset has meta/info.json (a dataset without it is unfinished)"
            )
        try:
            info = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise DatasetError(f"{path}: not valid JSON: {error}") from error
        if not isinstance(info, dict):
            raise DatasetError(f"{path}: expected a JSON object, got {type(info).__name__}")
        missing = [key for key in _REQUIRED_INFO_KEYS if key not in info]
        if missing:
            raise DatasetError(
                f"{path}: key(s) {missing} missing; expected the LeRobot v3 keys {list(_REQUIRED_INFO_KEYS)}"
            )
        if not str(info["codebase_version"]).startswith("v3"):
            raise DatasetError(
                f"{path}: codebase_version {info['codebase_version']!r}, expected 'v3.0' "
                "(convert older datasets with LeRobot)"
            )
        if not isinstance(info["features"], dict):
            raise DatasetError(f"{path}: 'features' must be an object {{name: {{dtype, shape, names}}}}")
        return info

    def _fps(self) -> int:
        fps = self.info["fps"]
        if not isinstance(fps, (int, float)) or fps <= 0 or float(fps) != int(fps):
            raise DatasetError(f"{self.root / fmt.INFO_PATH}: fps {fps!r}, expected a positive integer")
        return int(fps)

    def _check_features(self) -> None:
        where = self.root / fmt.INFO_PATH
        for name, feature in self.features.items():
            if not isinstance(feature, dict) or "dtype" not in feature or not isinstance(feature.get("shape"), list):
                raise DatasetError(
                    f"{where}: feature {name!r} is {feature!r:.100}; expected {{dtype, shape (list), names}}"
                )
        for name in (fmt.ACTION, *fmt.INDEX_FEATURES):
            if name not in self.features:
                raise DatasetError(
                    f"{where}: feature {name!r} missing from 'features'; "
                    f"expected {fmt.ACTION!r} and {list(fmt.INDEX_FEATURES)}"
                )
        if not self._video_keys:
            raise DatasetError(f"{where}: no feature has dtype 'video'; worldalign reads cameras stored as mp4 videos")
        if "video_path" not in self.info or not self.info["video_path"]:
            raise DatasetError(
                f"{where}: 'video_path' is {self.info.get('video_path')!r}; "
                "expected a path template for the video features"
            )
        for key in self._video_keys:
            _image_size(self.features[key], where=f"{where}: feature {key!r}")

    def _check_tasks(self) -> None:
        path = self.root / fmt.TASKS_PATH
        if not path.is_file():
            raise DatasetError(f"{path}: not found; a LeRobot v3 dataset lists its tasks there")
        try:
            names = pq.read_schema(path).names
        except _PARQUET_ERRORS as error:
            raise DatasetError(f"{path}: cannot read the parquet (truncated or corrupt): {error}") from error
        if fmt.TASK_INDEX not in names or not any(column in names for column in fmt.TASK_INDEX_COLUMNS):
            raise DatasetError(
                f"{path}: columns {names}; expected {fmt.TASK_INDEX!r} and one of {list(fmt.TASK_INDEX_COLUMNS)}"
            )

    def _load_episodes(self) -> list[_EpisodeRecord]:
        table = self._episodes_table()
        info_path = self.root / fmt.INFO_PATH
        indices = table.column(fmt.EP_INDEX).to_numpy()
        if len(indices) != self.info["total_episodes"]:
            raise DatasetError(
                f"{info_path}: total_episodes is {self.info['total_episodes']}, "
                f"meta/episodes lists {len(indices)} episodes"
            )
        if not np.array_equal(np.sort(indices), np.arange(len(indices))):
            raise DatasetError(
                f"{self.root / 'meta/episodes'}: episode_index values {sorted(indices.tolist())[:20]}..., "
                f"expected 0..{len(indices) - 1} once each"
            )
        table = table.take(pa.array(np.argsort(indices)))
        rows = table.to_pylist()
        lengths = np.array([row[fmt.EP_LENGTH] for row in rows], dtype=np.int64)
        if int(lengths.sum()) != self.info["total_frames"]:
            raise DatasetError(
                f"{info_path}: total_frames is {self.info['total_frames']}, "
                f"the episode lengths in meta/episodes sum to {int(lengths.sum())}"
            )
        data_paths = [self._data_path(row) for row in rows]
        row_starts = self._index_data_files(data_paths, lengths)
        return [
            self._record(row, data_path, row_start)
            for row, data_path, row_start in zip(rows, data_paths, row_starts, strict=True)
        ]

    def _episodes_table(self) -> pa.Table:
        paths = sorted(self.root.glob(fmt.EPISODES_GLOB))
        if not paths:
            raise DatasetError(f"{self.root / 'meta/episodes'}: no episodes parquet; expected {fmt.EPISODES_PATH}")
        required = list(_REQUIRED_EPISODE_COLUMNS) + [
            fmt.video_column(key, field) for key in self._video_keys for field in _VIDEO_COLUMNS
        ]
        tables = []
        for path in paths:
            try:
                names = pq.read_schema(path).names
                missing = [column for column in required if column not in names]
                if missing:
                    raise DatasetError(
                        f"{path}: column(s) {missing} missing; expected the LeRobot v3 per-episode columns"
                    )
                wanted = required + [column for column in _OPTIONAL_EPISODE_COLUMNS if column in names]
                tables.append(pq.read_table(path, columns=wanted, page_checksum_verification=True))
            except _PARQUET_ERRORS as error:
                raise DatasetError(
                    f"{path}: cannot read the episodes parquet (truncated or corrupt): {error}"
                ) from error
        try:
            return pa.concat_tables(tables, promote_options="permissive")
        except pa.ArrowException as error:
            raise DatasetError(
                f"{self.root / 'meta/episodes'}: the episodes files have incompatible columns: {error}"
            ) from error

    def _data_path(self, row: dict[str, Any]) -> Path:
        template = self.info["data_path"]
        try:
            return self.root / template.format(chunk_index=row[fmt.EP_DATA_CHUNK], file_index=row[fmt.EP_DATA_FILE])
        except (KeyError, IndexError, ValueError) as error:
            raise DatasetError(
                f"{self.root / fmt.INFO_PATH}: data_path {template!r} is not a valid template: {error}"
            ) from error

    def _index_data_files(self, data_paths: list[Path], lengths: np.ndarray) -> list[int]:
        """Check every data file against the features and meta/episodes; return each episode's first row."""
        by_file: dict[Path, list[int]] = defaultdict(list)
        for episode, path in enumerate(data_paths):
            by_file[path].append(episode)
        expected_columns = {name for name, feature in self.features.items() if feature["dtype"] != "video"}
        row_starts = [0] * len(data_paths)
        for path, episodes in by_file.items():
            if not path.is_file():
                raise DatasetError(
                    f"{path}: data file missing; meta/episodes places episodes {_ranges(episodes)} in it"
                )
            try:
                parquet = pq.ParquetFile(path, page_checksum_verification=True)
                columns = set(parquet.schema_arrow.names)
                missing, undeclared = sorted(expected_columns - columns), sorted(columns - expected_columns)
                if missing:
                    raise DatasetError(
                        f"{path}: no column for feature(s) {missing} declared in meta/info.json; "
                        f"the file has columns {sorted(columns)}"
                    )
                if undeclared:
                    raise DatasetError(f"{path}: column(s) {undeclared} not declared in meta/info.json features")
                episode_index = parquet.read(columns=[fmt.EPISODE_INDEX]).column(0).to_numpy()
            except _PARQUET_ERRORS as error:
                raise DatasetError(f"{path}: cannot read the data parquet (truncated or corrupt): {error}") from error
            starts = np.flatnonzero(np.diff(episode_index, prepend=-1) != 0)
            run_ids = episode_index[starts]
            run_lengths = np.diff(starts, append=len(episode_index))
            if len(np.unique(run_ids)) != len(run_ids):
                raise DatasetError(
                    f"{path}: the rows of an episode are not contiguous (episode_index runs {run_ids.tolist()[:20]})"
                )
            runs = {int(e): (int(s), int(n)) for e, s, n in zip(run_ids, starts, run_lengths, strict=True)}
            stray = sorted(set(runs) - set(episodes))
            if stray:
                raise DatasetError(
                    f"{path}: has rows of episode(s) {stray} that meta/episodes places elsewhere or does not list"
                )
            for episode in episodes:
                start, found = runs.get(episode, (0, 0))
                if found != lengths[episode]:
                    raise DatasetError(
                        f"{path}: episode {episode} has {found} rows (frames, actions), "
                        f"meta/episodes says length {lengths[episode]}"
                    )
                row_starts[episode] = start
        return row_starts

    def _record(self, row: dict[str, Any], data_path: Path, row_start: int) -> _EpisodeRecord:
        index = int(row[fmt.EP_INDEX])
        tasks = row[fmt.EP_TASKS] or []
        if not tasks:
            raise DatasetError(
                f"{self.root / 'meta/episodes'}: episode {index} has an empty 'tasks' list; expected its instruction"
            )
        metadata_json = row.get(fmt.EP_METADATA)
        try:
            metadata = json.loads(metadata_json) if metadata_json else {}
        except json.JSONDecodeError as error:
            raise DatasetError(
                f"{self.root / 'meta/episodes'}: episode {index} column {fmt.EP_METADATA!r} is not valid JSON: {error}"
            ) from error
        layout = row.get(fmt.EP_LAYOUT)
        videos = {}
        for key in self._video_keys:
            path = self.root / self.info["video_path"].format(
                video_key=key,
                chunk_index=row[fmt.video_column(key, "chunk_index")],
                file_index=row[fmt.video_column(key, "file_index")],
            )
            videos[key] = (path, float(row[fmt.video_column(key, "from_timestamp")]))
        return _EpisodeRecord(
            index=index,
            length=int(row[fmt.EP_LENGTH]),
            instruction=tasks[0],
            task_name=row.get(fmt.EP_TASK_NAME) or tasks[0],
            success=row.get(fmt.EP_SUCCESS),
            layout=None if layout is None else np.asarray(layout, np.float64),
            metadata=metadata,
            data_path=data_path,
            row_start=row_start,
            videos=videos,
        )

    def _check_videos(self) -> None:
        """Every referenced mp4 exists, opens, has the frame size of its feature in
        ``meta/info.json``, and is long enough for the episodes placed in it."""
        from worldalign.data.video import TIMESTAMP_TOLERANCE_S, probe_video

        ends: dict[Path, tuple[float, int]] = {}  # mp4 -> (latest end promised, by which episode)
        keys: dict[Path, str] = {}  # mp4 -> its video feature
        for record in self._records:
            for key, (path, start) in record.videos.items():
                keys[path] = key
                end = start + record.length / self.fps
                if path not in ends or end > ends[path][0]:
                    ends[path] = (end, record.index)
        for path, (end, episode) in ends.items():
            if not path.is_file():
                raise DatasetError(
                    f"{path}: video file missing; meta/episodes places episode {episode} (and maybe others) in it"
                )
            try:
                probe = probe_video(path)
            except DatasetError as error:
                raise DatasetError(
                    f"{error}; meta/episodes expects about {round(end * self.fps)} frames in it "
                    f"(up to t={end:.3f}s for episode {episode}), found none readable"
                ) from error
            expected = _image_size(self.features[keys[path]])
            if (probe.height, probe.width) != expected:
                raise DatasetError(
                    f"{self.root / fmt.INFO_PATH}: feature {keys[path]!r} declares frames of (height, width) "
                    f"{expected}, its video {path} has {(probe.height, probe.width)}: fix the feature's 'shape' "
                    "(and 'info') in meta/info.json"
                )
            # One frame period of slack: containers disagree on the last frame's duration.
            if probe.end_s is not None and end > probe.end_s + 1 / self.fps + TIMESTAMP_TOLERANCE_S:
                raise DatasetError(
                    f"{path}: the video ends at t={probe.end_s:.3f}s, meta/episodes places episode {episode} "
                    f"up to t={end:.3f}s (expected about {round(end * self.fps)} frames, found about "
                    f"{round(probe.end_s * self.fps)}): truncated file or wrong metadata"
                )


def _image_size(feature: dict[str, Any], *, where: str = "") -> tuple[int, int]:
    """``(height, width)`` of a video feature, honouring ``names`` when it orders the axes."""
    shape, names = feature["shape"], feature.get("names")
    if len(shape) != 3:
        raise DatasetError(f"{where or 'video feature'}: shape {shape}, expected [height, width, channels]")
    if isinstance(names, list) and names[:1] == ["channels"]:
        return int(shape[1]), int(shape[2])
    return int(shape[0]), int(shape[1])


def _ranges(indices: list[int]) -> str:
    """``[0, 1, 2, 5]`` -> ``"0-2, 5"`` for messages."""
    runs = [[indices[0], indices[0]]]
    for index in indices[1:]:
        if index == runs[-1][1] + 1:
            runs[-1][1] = index
        else:
            runs.append([index, index])
    return ", ".join(str(first) if first == last else f"{first}-{last}" for first, last in runs)
