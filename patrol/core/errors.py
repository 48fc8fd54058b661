"""Domain errors. Each carries the HTTP status and a user-facing message; one API handler maps them to JSON
``{code, message, field}`` and the CLI prints ``message`` on one line and exits non-zero (as pygeoapi does)."""

from __future__ import annotations


class GridPatrolError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, *, field: str | None = None, details: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.details = details or []


class ConfigurationError(GridPatrolError):
    status_code = 500
    code = "configuration"


class NotFound(GridPatrolError):
    status_code = 404
    code = "not_found"


class Unauthorized(GridPatrolError):
    status_code = 401
    code = "unauthorized"


class Forbidden(GridPatrolError):
    status_code = 403
    code = "forbidden"


class InvalidInput(GridPatrolError):
    status_code = 422
    code = "invalid"


class Conflict(GridPatrolError):
    status_code = 409
    code = "conflict"


class ImportFailed(GridPatrolError):
    """A file could not be imported; ``details`` holds one line per problem class. Nothing was written."""

    status_code = 422
    code = "import_failed"


class TooManyAttempts(GridPatrolError):
    """Too many failed attempts (logins) in a while: 429 with ``Retry-After`` (``retry_after`` seconds)."""

    status_code = 429
    code = "too_many_attempts"

    def __init__(self, message: str, *, retry_after: int, field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.retry_after = retry_after
