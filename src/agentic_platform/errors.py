"""One error hierarchy for the whole platform.

Every failure a caller can see is a :class:`PlatformError`. The HTTP layer maps it to a
status code and the OpenAI error envelope in one place (``agentic_platform.web.errors``), so route
handlers never build error responses themselves and never leak exception text.
"""

from __future__ import annotations

from typing import Any


class PlatformError(Exception):
    """Base of every error the platform reports to a caller."""

    status_code = 500
    error_type = "server_error"
    default_code: str | None = "server_error"
    """Every error carries a code a caller can branch on; subclasses name their own."""

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.param = param
        self.headers = headers or {}

    def to_body(self) -> dict[str, Any]:
        """The OpenAI error envelope."""
        return {
            "error": {
                "message": self.message,
                "type": self.error_type,
                "param": self.param,
                "code": self.code,
            }
        }


# --- client mistakes (4xx) -------------------------------------------------------------


class InvalidRequestError(PlatformError):
    status_code = 400
    default_code = "invalid_request"
    error_type = "invalid_request_error"


class AuthenticationError(PlatformError):
    status_code = 401
    error_type = "authentication_error"
    default_code = "invalid_api_key"


class PermissionDeniedError(PlatformError):
    status_code = 403
    error_type = "permission_error"
    default_code = "permission_denied"


class NotFoundError(PlatformError):
    status_code = 404
    error_type = "invalid_request_error"
    default_code = "not_found"


class ModelNotFoundError(NotFoundError):
    default_code = "model_not_found"


class ConflictError(PlatformError):
    status_code = 409
    error_type = "invalid_request_error"
    default_code = "conflict"


class PayloadTooLargeError(PlatformError):
    status_code = 413
    error_type = "invalid_request_error"
    default_code = "payload_too_large"


class RateLimitError(PlatformError):
    status_code = 429
    error_type = "rate_limit_error"
    default_code = "rate_limit_exceeded"


# --- platform and upstream failures (5xx) ------------------------------------------------


class ConfigurationError(PlatformError):
    """A setting is missing or wrong; raised at start-up, before serving."""

    status_code = 500
    error_type = "configuration_error"
    default_code = "configuration_error"


class UnsupportedFeatureError(InvalidRequestError):
    """The chosen model or provider cannot do what the request asks."""

    default_code = "unsupported_feature"


class UpstreamError(PlatformError):
    """A model provider failed. ``retryable`` errors may be retried or fall back."""

    status_code = 502
    error_type = "upstream_error"
    default_code = "upstream_error"
    retryable = False

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
        retry_after: float | None = None,
        upstream_status: int | None = None,
    ) -> None:
        super().__init__(message, code=code, param=param, headers=headers)
        self.retry_after = retry_after
        self.upstream_status = upstream_status


class UpstreamRateLimitError(UpstreamError):
    status_code = 429
    error_type = "rate_limit_error"
    default_code = "upstream_rate_limited"
    retryable = True


class UpstreamUnavailableError(UpstreamError):
    """5xx from the provider, or the connection failed."""

    status_code = 502
    default_code = "upstream_unavailable"
    retryable = True


class UpstreamTimeoutError(UpstreamError):
    status_code = 504
    default_code = "upstream_timeout"
    retryable = True


class UpstreamRequestError(UpstreamError):
    """The provider rejected the request as invalid (4xx other than 401/403/429)."""

    status_code = 400
    error_type = "invalid_request_error"
    default_code = "upstream_rejected_request"


class UpstreamAuthError(UpstreamError):
    """The provider rejected the platform's credentials: an operator problem, not the caller's."""

    status_code = 502
    default_code = "upstream_auth_failed"


class ServiceUnavailableError(PlatformError):
    status_code = 503
    error_type = "server_error"
    default_code = "service_unavailable"


class DatabaseUnavailableError(ServiceUnavailableError):
    """The platform database (or the pgvector index) cannot be reached: down, restarting or
    out of connections. The caller may retry; a write cut off mid-query may or may not have
    landed."""

    default_code = "database_unavailable"

    def __init__(self, message: str = "The database is unavailable, retry later.") -> None:
        super().__init__(message, headers={"Retry-After": "1"})
