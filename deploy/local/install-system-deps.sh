#!/usr/bin/env bash
# The Debian packages the local stack needs: redis-server, and libGL/GLib for OpenCV.
exec "$(dirname "$0")/ensure-debian-packages.sh" \
  redis-server=redis-server libGL.so.1=libgl1 libglib-2.0.so.0=libglib2.0-0
