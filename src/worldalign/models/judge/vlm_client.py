"""A judge behind an OpenAI-compatible chat API: a served multimodal LLM as the teacher.

RoboAlign-R1 (arXiv:2605.03821) uses a fine-tuned multimodal LLM as its teacher judge. Users who
serve one (vLLM, TGI, llama.cpp server, ...) can score videos with it through
``POST {base_url}/v1/chat/completions``: a few frames per view as base64 PNG data-URL image
parts, a rubric per dimension, and a reply that must be one JSON object of integer scores.

Nothing is guessed: a reply that is not exactly that object (malformed, truncated, a missing or
extra key, a score out of range) is a ``VLMReplyError``; a server that does not answer in time
after the retries is a ``VLMTransportError``. ``score_many`` records such items as failed, with
the reason, and never turns them into a zero score. The API key is read only from an
environment variable; it only travels encrypted or to this machine (plain ``http://`` is refused
except to a loopback host: 127.0.0.0/8, ::1, ``localhost``), and never to another origin: on a
redirect to another scheme, host or port the ``Authorization`` header is dropped. Only the
standard library is used (``urllib``), so no dependency is added.
"""

from __future__ import annotations

import base64
import io
import ipaddress
import json
import os
import re
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from worldalign.errors import ConfigError, WorldAlignError


class VLMReplyError(WorldAlignError):
    """The server answered, but not with a valid score object."""


class VLMTransportError(WorldAlignError):
    """The server could not be reached or did not answer in time, after every retry."""


RUBRICS: dict[str, str] = {
    "instruction_following": "3 = the instructed task is completed by the end; 2 = most of the way; "
    "1 = some progress toward it; 0 = no progress, or the robot does a different task.",
    "manipulation_success": "2 = the object is in the goal state in the last frame; 1 = it got there but "
    "lost it, or most of the way; 0 = otherwise.",
    "action_outcome_consistency": "1 = the arm's motion follows the listed commanded actions, in order; "
    "0 = the motion contradicts them or the arm jumps.",
    "temporal_consistency": "1 = frames are in time order with no stall, gap, reversal or shuffle; 0 = otherwise.",
    "contact_realism": "1 = objects only move when the gripper touches them; 0 = an object moves on its own.",
    "physics_adherence": "2 = no violation; 1 = only an object moving without contact; 0 = an object floats, "
    "sinks into the table, or the arm teleports.",
}


@dataclass(frozen=True)
class VLMJudgeConfig:
    """Where and how to ask a served VLM."""

    base_url: str
    """Server root, e.g. ``http://127.0.0.1:8000`` (``/v1/chat/completions`` is appended)."""
    model: str
    """Model name the server expects in the request."""
    api_key_env: str = "WORLDALIGN_VLM_API_KEY"
    """Environment variable holding the API key (unset: no Authorization header)."""
    timeout_s: float = 60.0
    """Seconds to wait for one reply."""
    retries: int = 3
    """Further attempts after a timeout, connection error, 429 or 5xx."""
    backoff_s: float = 1.0
    """First wait between attempts; doubles each time."""
    frames_per_view: int = 4
    """Frames sent per view, spread uniformly over the clip."""
    max_tokens: int = 200
    """Reply length limit."""


@dataclass(frozen=True)
class Dimension:
    """A scored dimension as the client needs it."""

    key: str
    title: str
    max_score: int


@dataclass(frozen=True)
class ScoredItem:
    """One item's outcome: ``scores`` ``(D,)`` or ``None`` with the ``error`` that says why."""

    scores: np.ndarray | None
    error: str | None


def png_data_url(image: np.ndarray) -> str:
    """``(H, W, 3)`` uint8 -> ``data:image/png;base64,...``."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def build_messages(
    frames: np.ndarray, instruction: str, views: Sequence[str], dimensions: Sequence[Dimension], frames_per_view: int
) -> list[dict[str, object]]:
    """The chat messages for one ``(V, T, H, W, 3)`` uint8 video and its instruction."""
    if not instruction.strip():
        raise ConfigError("the instruction is empty: the judge scores a video against an instruction")
    if frames.ndim != 5 or frames.shape[0] != len(views) or frames.dtype != np.uint8:
        raise ConfigError(f"frames must be ({len(views)}, T, H, W, 3) uint8 for views {list(views)}, got {frames.shape} {frames.dtype}")
    rubric = "\n".join(
        f"- {d.key} ({d.title}, integer 0-{d.max_score}): {RUBRICS.get(d.key, f'0 = worst, {d.max_score} = best.')}"
        for d in dimensions
    )
    keys = ", ".join(f'"{d.key}"' for d in dimensions)
    system = (
        "You are a strict judge of robot manipulation videos. Score the video on each dimension by its rubric.\n"
        f"{rubric}\nReply with exactly one JSON object with the integer keys {keys} and nothing else."
    )
    picks = np.linspace(0, frames.shape[1] - 1, frames_per_view).round().astype(int)
    content: list[dict[str, object]] = [{"type": "text", "text": f"Instruction: {instruction}"}]
    for view, per_view in zip(views, frames):
        content.append({"type": "text", "text": f"View {view!r}, frames {picks.tolist()} in time order:"})
        content.extend({"type": "image_url", "image_url": {"url": png_data_url(per_view[t])}} for t in picks)
    return [{"role": "system", "content": system}, {"role": "user", "content": content}]


_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL)


def parse_scores(text: str, dimensions: Sequence[Dimension]) -> np.ndarray:
    """``(D,)`` float32 scores from a reply that is one JSON object (a ```json fence allowed).

    Raises ``VLMReplyError`` for malformed or truncated JSON, missing or extra keys, non-integer
    or out-of-range scores.
    """
    stripped = text.strip()
    fenced = _FENCE.match(stripped)
    body = fenced.group(1) if fenced else stripped
    try:
        reply = json.loads(body)
    except json.JSONDecodeError as error:
        raise VLMReplyError(f"reply is not valid JSON ({error.msg} at char {error.pos}): {text[:200]!r}") from None
    if not isinstance(reply, dict):
        raise VLMReplyError(f"reply is JSON {type(reply).__name__}, expected an object of scores: {text[:200]!r}")
    expected = [d.key for d in dimensions]
    missing, extra = sorted(set(expected) - set(reply)), sorted(set(reply) - set(expected))
    if missing or extra:
        raise VLMReplyError(f"reply keys: missing {missing}, unexpected {extra}; expected exactly {expected}")
    scores = []
    for dimension in dimensions:
        value = reply[dimension.key]
        if isinstance(value, bool) or not isinstance(value, int):
            raise VLMReplyError(f"{dimension.key} = {value!r}: expected an integer 0..{dimension.max_score}")
        if not 0 <= value <= dimension.max_score:
            raise VLMReplyError(f"{dimension.key} = {value} is outside 0..{dimension.max_score}")
        scores.append(value)
    return np.array(scores, dtype=np.float32)


def is_loopback_host(host: str) -> bool:
    """Whether ``host`` names this machine: ``localhost``, 127.0.0.0/8 or ::1."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_base_url(base_url: str) -> None:
    """A ``ConfigError`` unless ``base_url`` is ``https://HOST`` or ``http://`` to a loopback host
    (the API key must not cross a network in clear text)."""
    parts = urllib.parse.urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"VLM base_url {base_url!r}: expected https://HOST[:PORT] (or http:// to this machine)")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise ConfigError(
            f"VLM base_url {base_url!r}: plain http:// would send the API key in clear text; expected https://, "
            "or http:// only to a loopback host (127.0.0.1, ::1, localhost)"
        )


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urllib.parse.urlsplit(url)
    default_port = {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), parts.port or default_port


class CredentialSafeRedirectHandler(urllib.request.HTTPRedirectHandler):
    """Follows redirects as urllib does, but drops the ``Authorization`` header when the redirect
    leads to another origin (scheme, host or port), where the API key has no business."""

    def redirect_request(
        self, req: urllib.request.Request, fp: object, code: int, msg: str, headers: object, newurl: str
    ) -> urllib.request.Request | None:
        new = super().redirect_request(req, fp, code, msg, headers, newurl)  # type: ignore[arg-type]
        if new is not None and _origin(newurl) != _origin(req.full_url):
            for stored in (new.headers, new.unredirected_hdrs):
                for name in [name for name in stored if name.lower() == "authorization"]:
                    del stored[name]
        return new


class VLMJudgeClient:
    """Scores videos with a served VLM (see the module docstring).

    Args:
        config: server, model, timeouts and retries.
        dimensions: the dimensions to ask for, in output order.
        views: camera names of the videos, in order.
        sleep: waits between retries (injectable so tests never sleep).
    """

    def __init__(
        self,
        config: VLMJudgeConfig,
        dimensions: Sequence[Dimension],
        views: Sequence[str],
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        check_base_url(config.base_url)
        self.config = config
        self.dimensions = tuple(dimensions)
        self.views = tuple(views)
        self.sleep = sleep
        self.url = config.base_url.rstrip("/") + "/v1/chat/completions"
        self._opener = urllib.request.build_opener(CredentialSafeRedirectHandler())

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(self.config.api_key_env)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return headers

    def _post(self, payload: bytes) -> dict[str, object]:
        """One request with retries on timeouts, connection errors, 429 and 5xx."""
        last = ""
        for attempt in range(self.config.retries + 1):
            if attempt:
                self.sleep(self.config.backoff_s * 2 ** (attempt - 1))
            request = urllib.request.Request(self.url, data=payload, headers=self._headers(), method="POST")
            try:
                with self._opener.open(request, timeout=self.config.timeout_s) as response:
                    body = response.read()
            except urllib.error.HTTPError as error:
                last = f"HTTP {error.code} from {self.url}"
                if error.code == 429 or error.code >= 500:
                    continue
                raise VLMTransportError(f"{last}: {error.read()[:200]!r}") from None
            except (TimeoutError, socket.timeout):
                last = f"no reply from {self.url} within {self.config.timeout_s} s"
                continue
            except urllib.error.URLError as error:
                last = f"cannot reach {self.url}: {error.reason}"
                continue
            try:
                return json.loads(body)
            except json.JSONDecodeError:
                raise VLMReplyError(f"{self.url} answered with a body that is not JSON (truncated?): {body[:200]!r}") from None
        raise VLMTransportError(f"{last} (after {self.config.retries + 1} attempts)")

    def score(self, frames: np.ndarray, instruction: str) -> np.ndarray:
        """``(D,)`` scores of one ``(V, T, H, W, 3)`` uint8 video; raises on any failure."""
        messages = build_messages(frames, instruction, self.views, self.dimensions, self.config.frames_per_view)
        payload = {"model": self.config.model, "messages": messages, "temperature": 0.0, "max_tokens": self.config.max_tokens}
        reply = self._post(json.dumps(payload).encode())
        try:
            choice = reply["choices"][0]  # type: ignore[index]
            text = choice["message"]["content"]
        except (KeyError, IndexError, TypeError):
            raise VLMReplyError(f"reply has no choices[0].message.content: {str(reply)[:200]}") from None
        if choice.get("finish_reason") == "length":
            raise VLMReplyError(f"reply was cut at max_tokens={self.config.max_tokens} (finish_reason 'length'): {text[:200]!r}")
        if not isinstance(text, str):
            raise VLMReplyError(f"reply content is {type(text).__name__}, expected text")
        return parse_scores(text, self.dimensions)

    def score_many(self, videos: Sequence[np.ndarray], instructions: Sequence[str]) -> list[ScoredItem]:
        """Score every video; a failure is recorded with its reason, never scored zero."""
        results = []
        for frames, instruction in zip(videos, instructions, strict=True):
            try:
                results.append(ScoredItem(self.score(frames, instruction), None))
            except (VLMReplyError, VLMTransportError, ConfigError) as error:
                results.append(ScoredItem(None, f"{type(error).__name__}: {error}"))
        return results
