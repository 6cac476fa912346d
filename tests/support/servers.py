"""Real Redis and SeaweedFS processes for tests: the helpers live in deploy/local/servers.py, which bench/ uses too."""

from __future__ import annotations

from deploy.local.servers import make_test_settings, running, settings_env, wait_for_redis, wait_for_s3

__all__ = ["make_test_settings", "running", "settings_env", "wait_for_redis", "wait_for_s3"]
