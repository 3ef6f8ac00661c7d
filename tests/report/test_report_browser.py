"""A report opened in a real browser: headless Chromium loads index.html from the folder, and the
test checks that nothing fails to load or logs an error, that every figure decodes, that every
video loads (readyState >= 2, duration > 0) and plays, that every request stays in the folder,
and saves a screenshot of the whole page.

Chromium is driven over the DevTools protocol on a pipe (``browser.py``). Without Chromium the
test skips: ``make test`` installs it where it runs as root (``scripts/ensure_browser.sh``).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from browser import find_chromium, open_page
from PIL import Image

from worldalign.report import build_report
from worldalign.stages.rollout import METRICS_FILE

CHROMIUM = find_chromium()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="Chromium is not installed: `make test` installs it when run as root (scripts/ensure_browser.sh, "
    "Debian's `chromium` package); otherwise install it as root (apt-get install chromium) to run the browser test",
)

# Waits for each video to load (or fail), plays it for a moment and reports what the element says.
VIDEO_CHECK = """
(async () => {
  const check = async (video) => {
    if (video.readyState < 2 && !video.error) {
      await new Promise((resolve) => {
        video.addEventListener("loadeddata", resolve, { once: true });
        video.addEventListener("error", resolve, { once: true });
        setTimeout(resolve, 20000);
      });
    }
    const result = { src: video.getAttribute("src"), readyState: video.readyState, duration: video.duration,
                     error: video.error ? `${video.error.code} ${video.error.message}` : null, played: false };
    if (!video.error) {
      const start = video.currentTime;
      try { await video.play(); } catch (error) { result.error = String(error); }
      await new Promise((resolve) => setTimeout(resolve, 300));
      result.played = video.currentTime !== start;
      video.pause();
    }
    return result;
  };
  return Promise.all(Array.from(document.querySelectorAll("video"), check));
})()
"""
IMAGE_CHECK = """
Array.from(document.images, (image) => ({ src: image.getAttribute("src"), complete: image.complete,
                                          width: image.naturalWidth }))
"""


def test_report_renders_and_its_videos_play(results: dict[str, Path], tmp_path: Path) -> None:
    assert CHROMIUM is not None
    inputs = [results["swr"], results["full"] / METRICS_FILE, results["align"], results["eval"], results["wm"]]
    index = build_report(inputs, tmp_path / "report")
    with open_page(CHROMIUM, index, tmp_path / "profile") as page:
        videos = page.evaluate(VIDEO_CHECK)
        images = page.evaluate(IMAGE_CHECK)
        screenshot = page.screenshot(tmp_path / "report.png", width=1280)
        errors, urls = page.errors(), page.requested_urls()
    assert len(videos) == 6
    for video in videos:
        assert video["error"] is None and video["readyState"] >= 2 and video["duration"] > 0, video
        assert video["played"], video
    assert len(images) == 6 and all(image["complete"] and image["width"] > 0 for image in images), images
    assert not errors, errors
    # Files of the folder, and the data: icons of the browser's own video controls; no network.
    assert urls and all(url.startswith((index.parent.as_uri() + "/", "data:")) for url in urls), urls
    shot = Image.open(screenshot)
    assert shot.width == 1280 and shot.height > 1000
    print(f"screenshot: {screenshot}")


def test_the_checks_see_a_broken_page(tmp_path: Path) -> None:
    """The checks are not vacuous: a missing video, a console error and a failed load are seen."""
    assert CHROMIUM is not None
    index = tmp_path / "index.html"
    index.write_text('<!DOCTYPE html><video src="missing.mp4"></video><script>console.error("broken")</script>')
    with open_page(CHROMIUM, index, tmp_path / "profile") as page:
        (video,) = page.evaluate(VIDEO_CHECK)
        errors = page.errors()
    assert video["error"] is not None and video["readyState"] == 0
    assert any("broken" in error for error in errors) and any("missing.mp4" in error for error in errors), errors
