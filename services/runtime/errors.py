"""The one shape of a refusal that the API answers as it is."""

from __future__ import annotations


class CodedError(Exception):
    """A stable ``code``, a ``message`` for people, and the HTTP ``status`` the API answers with."""

    def __init__(self, code: str, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
