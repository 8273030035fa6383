"""Exit codes scripts can rely on, and the exceptions that map to them."""

from __future__ import annotations

OK = 0
FAILED = 1  # the operation failed (tool error, engine error); see the error line
USAGE = 2  # bad command line or bad input value
VERIFY_FAILED = 3  # a backup/manifest/digest did not verify; nothing was changed
MISSING_TOOL = 4  # a required external tool or service is not available
ROLLED_BACK = 5  # the new version failed its health check and the last healthy one is running again
ROLLBACK_FAILED = 6  # rollback did not reach a healthy state: page a human

EXIT_CODES = {
    OK: "success",
    FAILED: "operation failed",
    USAGE: "bad input (usage error)",
    VERIFY_FAILED: "backup or image verification failed; nothing was changed",
    MISSING_TOOL: "required tool or service unavailable",
    ROLLED_BACK: "deploy failed its health check; rolled back to the last healthy version",
    ROLLBACK_FAILED: "rollback did not reach a healthy state",
}


class OpsError(Exception):
    """An expected failure: printed as one line, exits with `code`."""

    code = FAILED

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class UsageError(OpsError):
    code = USAGE


class VerifyError(OpsError):
    code = VERIFY_FAILED


class MissingTool(OpsError):
    code = MISSING_TOOL
