"""API errors. Every error response has the shape ``{"error": "<code>", "message": "<text>"}``."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An error the API reports to the caller; never logged as a server failure."""

    def __init__(self, status: int, code: str, message: str, /, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"error": self.code, "message": self.message, **self.extra}


def bad_request(message: str, code: str = "bad_request", **extra: Any) -> ApiError:
    return ApiError(400, code, message, **extra)


def not_found(kind: str, ident: str) -> ApiError:
    return ApiError(404, "not_found", f"No {kind} with id {ident!r} exists.")


def conflict(code: str, message: str, **extra: Any) -> ApiError:
    return ApiError(409, code, message, **extra)


def forbidden(code: str, message: str) -> ApiError:
    return ApiError(403, code, message)
