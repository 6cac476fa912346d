#!/usr/bin/env bash
# Debian's Chromium and ChromeDriver for the browser test (tests/web); selenium is pointed at
# /usr/bin/chromium and /usr/bin/chromedriver, so no browser is downloaded from anywhere else.
exec "$(dirname "$0")/../../deploy/local/ensure-debian-packages.sh" \
  chromium=chromium chromedriver=chromium-driver
