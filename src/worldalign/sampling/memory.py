"""Peak memory of a block of code: CUDA's allocator peak on a GPU, the process's peak RSS on a CPU.

``tracemalloc`` sees only Python objects, not tensor storage, so on the CPU the meter resets the
kernel's resident-set high-water mark (``/proc/self/clear_refs``, Linux) and reads ``VmHWM``.
That counts every allocation of the process, so compare peaks measured in the same process, and
do not nest meters on the CPU (the inner one resets the outer one's peak).
"""

from __future__ import annotations

import resource
from dataclasses import dataclass, field
from pathlib import Path

import torch

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def _status_kib(key: str) -> int | None:
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


@dataclass
class PeakMemoryMeter:
    """Context manager: ``peak_bytes`` above the level at entry, and ``method`` used to measure it."""

    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    peak_bytes: int = 0
    method: str = ""
    _start: int = 0

    def __enter__(self) -> PeakMemoryMeter:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self._start = torch.cuda.memory_allocated(self.device)
            self.method = "torch.cuda.max_memory_allocated"
            return self
        try:
            # "5" resets the peak RSS to the current RSS (Linux >= 4.0).
            _CLEAR_REFS.write_text("5")
            self.method = "peak RSS (VmHWM after clear_refs)"
        except OSError:
            self.method = "peak RSS (ru_maxrss, process lifetime)"
        self._start = (_status_kib("VmRSS") or 0) * 1024
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            peak = torch.cuda.max_memory_allocated(self.device)
        elif self.method.startswith("peak RSS (VmHWM"):
            peak = (_status_kib("VmHWM") or 0) * 1024
        else:
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        self.peak_bytes = max(0, peak - self._start)
