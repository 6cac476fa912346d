"""Structured logs: one JSON object per line with the job id, tenant and request id of the work at hand.

Request handlers and the webhook task set the context variables; every line logged while they
run carries them. Configured secrets (API keys, webhook secret) are masked if they ever reach a
message; image bytes and request headers are never logged.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import time
from collections.abc import Iterable

job_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("job_id", default=None)
tenant_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("tenant", default=None)
request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)

HANDLER_NAME = "fakeweb-structured"
LOGGER_NAMES = ("fakeweb", "services.contract", "services.runtime")
REDACTED = "[redacted]"


class ContextFilter(logging.Filter):
    """Adds the job id, tenant and request id to each record and masks secrets in its text."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = tuple(s for s in secrets if s)

    def filter(self, record: logging.LogRecord) -> bool:
        record.job_id = getattr(record, "job_id", None) or job_id_var.get()
        record.tenant = getattr(record, "tenant", None) or tenant_var.get()
        record.request_id = getattr(record, "request_id", None) or request_id_var.get()
        if self.secrets:
            text = record.getMessage()
            if any(secret in text for secret in self.secrets):
                for secret in self.secrets:
                    text = text.replace(secret, REDACTED)
                record.msg, record.args = text, None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for name in ("job_id", "tenant", "request_id"):
            value = getattr(record, name, None)
            if value:
                line[name] = value
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            line.update(fields)
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


class TextFormatter(logging.Formatter):
    """Readable lines for a terminal, still with the job id."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%H:%M:%S", time.localtime(record.created))
        job = getattr(record, "job_id", None)
        fields = getattr(record, "fields", None) or {}
        extra = " ".join(f"{k}={v}" for k, v in fields.items())
        text = f"{stamp} {record.levelname:<7} {record.name}{f' job={job}' if job else ''} {record.getMessage()}"
        text = f"{text} {extra}".rstrip()
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


def configure_logging(log_format: str, secrets: Iterable[str] = (), level: int = logging.INFO) -> None:
    """Install (once, replacing an earlier one) the structured handler on FakeWeb's loggers."""
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(HANDLER_NAME)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    handler.addFilter(ContextFilter(secrets))
    for name in LOGGER_NAMES:
        logger = logging.getLogger(name)
        for old in [h for h in logger.handlers if h.get_name() == HANDLER_NAME]:
            logger.removeHandler(old)
        logger.addHandler(handler)
        logger.setLevel(level)
