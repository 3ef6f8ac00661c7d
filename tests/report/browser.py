"""A small headless-Chromium driver over the DevTools protocol on a pipe (``--remote-debugging-pipe``).

No extra package and no network port: Chromium reads protocol messages on fd 3 and writes them
on fd 4, each a JSON object ended by a NUL byte. ``open_page`` loads a file, collects the console
errors, uncaught exceptions and failed loads that happen while it is open, evaluates scripts in
it and takes screenshots.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
# Resolves once every video has a frame to show and two animation frames have been painted.
SETTLED = """
(async () => {
  await Promise.all(Array.from(document.querySelectorAll("video"), (video) => video.readyState >= 2 || video.error
    ? null : new Promise((resolve) => { video.addEventListener("loadeddata", resolve, { once: true });
                                        video.addEventListener("error", resolve, { once: true }); })));
  for (let i = 0; i < 2; i++) await new Promise((resolve) => requestAnimationFrame(resolve));
  await new Promise((resolve) => setTimeout(resolve, 300));
})()
"""


def find_chromium() -> str | None:
    """The path of an installed Chromium (or Chrome), if any."""
    return next((path for path in map(shutil.which, BROWSERS) if path), None)


class DevToolsPipe:
    """Requests and events of one browser over its debugging pipe."""

    def __init__(self, process: subprocess.Popen[bytes], to_browser: int, from_browser: int) -> None:
        self.process, self.to_browser, self.from_browser = process, to_browser, from_browser
        self.events: list[dict[str, Any]] = []
        self._buffer = b""
        self._next_id = 0

    def send(self, method: str, params: dict[str, Any] | None = None, session: str | None = None,
             timeout: float = 30.0) -> dict[str, Any]:  # fmt: skip
        """Send one command and wait for its answer (events met meanwhile are kept in ``events``)."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self.to_browser, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._read(timeout, f"the answer to {method}")
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def wait_for(self, method: str, timeout: float = 30.0) -> dict[str, Any]:
        """Wait for an event named ``method`` (seen already or arriving)."""
        seen = len(self.events)
        for event in self.events:
            if event.get("method") == method:
                return event
        while True:
            self._read(timeout, method)
            for event in self.events[seen:]:
                if event.get("method") == method:
                    return event
            seen = len(self.events)

    def _read(self, timeout: float, waiting_for: str) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.from_browser], [], [], left)[0]:
                raise TimeoutError(f"Chromium sent nothing for {timeout:.0f} s while waiting for {waiting_for}")
            chunk = os.read(self.from_browser, 1 << 20)
            if not chunk:
                raise RuntimeError(f"Chromium closed its pipe (exit code {self.process.poll()})")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        message = json.loads(raw)
        if "id" not in message:
            self.events.append(message)
        return message


class Page:
    """One page of a headless browser."""

    def __init__(self, pipe: DevToolsPipe, session: str) -> None:
        self.pipe, self.session = pipe, session

    def command(self, method: str, params: dict[str, Any] | None = None, timeout: float = 30.0) -> dict[str, Any]:
        return self.pipe.send(method, params, self.session, timeout)

    def evaluate(self, script: str, timeout: float = 60.0) -> Any:
        """The value of ``script`` (awaited when it is a promise); a JavaScript exception raises."""
        result = self.command(
            "Runtime.evaluate", {"expression": script, "awaitPromise": True, "returnByValue": True}, timeout
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"the script threw: {result['exceptionDetails']}")
        return result["result"].get("value")

    def errors(self) -> list[str]:
        """Console errors, uncaught exceptions and failed loads (e.g. a missing file) so far."""
        found = []
        for event in self.pipe.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                found.append("console: " + " ".join(str(arg.get("value", arg)) for arg in params.get("args", [])))
            elif method == "Runtime.exceptionThrown":
                found.append(f"exception: {params.get('exceptionDetails')}")
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                entry = params["entry"]
                found.append(f"log: {entry.get('text')} {entry.get('url', '')}")
        return found

    def requested_urls(self) -> list[str]:
        """Every URL the page asked for so far."""
        return [
            event["params"]["request"]["url"]
            for event in self.pipe.events
            if event.get("method") == "Network.requestWillBeSent"
        ]

    def screenshot(self, out: Path, width: int) -> Path:
        """A PNG of the whole page laid out ``width`` CSS pixels wide."""
        metrics = {"width": width, "height": 800, "deviceScaleFactor": 1, "mobile": False}
        self.command("Emulation.setDeviceMetricsOverride", metrics)  # lay out at the width, then measure
        metrics["height"] = int(self.evaluate("document.documentElement.scrollHeight"))
        self.command("Emulation.setDeviceMetricsOverride", metrics)
        self.evaluate(SETTLED)  # the resized page (and its videos' frames) painted again
        data = self.command("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})["data"]
        out.write_bytes(base64.b64decode(data))
        return out


@contextmanager
def open_page(chromium: str, file: Path, profile: Path, timeout: float = 60.0) -> Iterator[Page]:
    """Headless Chromium with ``file`` loaded (its load event fired); closed on exit."""
    to_browser_read, to_browser = os.pipe()
    from_browser, from_browser_write = os.pipe()
    # The child's ends, moved above 4 so that placing them on 3 and 4 cannot overwrite one another.
    child_read, child_write = (fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in (to_browser_read, from_browser_write))
    for fd in (to_browser_read, from_browser_write):
        os.close(fd)

    def pipes_on_3_and_4() -> None:  # in the child, before exec: dup2 leaves 3 and 4 inheritable
        os.dup2(child_read, 3)
        os.dup2(child_write, 4)

    process = subprocess.Popen(
        [chromium, "--headless=new", "--remote-debugging-pipe", "--no-sandbox", "--disable-gpu",
         "--no-first-run", "--no-default-browser-check", "--disable-extensions", "--mute-audio",
         "--autoplay-policy=no-user-gesture-required", f"--user-data-dir={profile}", "about:blank"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        preexec_fn=pipes_on_3_and_4, close_fds=False,  # every other descriptor is close-on-exec (PEP 446)
    )  # fmt: skip
    os.close(child_read)
    os.close(child_write)
    pipe = DevToolsPipe(process, to_browser, from_browser)
    try:
        target = pipe.send("Target.createTarget", {"url": "about:blank"}, timeout=timeout)["targetId"]
        session = pipe.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        page = Page(pipe, session)
        for domain in ("Runtime", "Log", "Network", "Page"):
            page.command(f"{domain}.enable")
        page.command("Page.navigate", {"url": file.resolve().as_uri()})
        pipe.wait_for("Page.loadEventFired", timeout)
        yield page
    finally:
        os.close(to_browser)
        os.close(from_browser)
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
