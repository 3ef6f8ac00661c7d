#!/usr/bin/env bash
# Make sure headless Chromium is present for the browser test of `worldalign report`
# (tests/report/test_report_browser.py opens a report in it).
#
# Run as root: installs Debian's `chromium` package when it is missing. Otherwise, or when the
# install fails (no package source reachable), says so and succeeds: the browser test then skips
# with the reason, and every other test runs.
set -euo pipefail

for browser in chromium chromium-browser google-chrome; do
  if command -v "$browser" >/dev/null 2>&1; then
    echo "browser for the report test: $(command -v "$browser")"
    exit 0
  fi
done

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing chromium for the report's browser test"
  export DEBIAN_FRONTEND=noninteractive
  if apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium; then
    exit 0
  fi
  echo "warning: could not install chromium: the report's browser test will skip" >&2
else
  echo "note: chromium is not installed and installing it needs root (apt-get install -y chromium):" \
    "the report's browser test will skip" >&2
fi
