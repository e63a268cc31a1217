"""How Bedrock's failures become platform errors: botocore's exceptions and Bedrock's error
codes mapped to the upstream error kinds the gateway retries, falls back on or answers with.
Messages name the model and Bedrock's error code, never credentials or exception text from
the credential chain."""

from __future__ import annotations

from collections.abc import Mapping

import urllib3.exceptions
from botocore.eventstream import ParserError as EventStreamParserError
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    CredentialRetrievalError,
    EndpointConnectionError,
    NoCredentialsError,
    PartialCredentialsError,
    ReadTimeoutError,
    ResponseStreamingError,
    SSOError,
    TokenRetrievalError,
)

from agentic_platform.errors import (
    UpstreamAuthError,
    UpstreamError,
    UpstreamRateLimitError,
    UpstreamRequestError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)
from agentic_platform.llm_gateway.catalog import Deployment

_ERROR_CODES: dict[str, type[UpstreamError]] = {
    "ThrottlingException": UpstreamRateLimitError,
    "ServiceQuotaExceededException": UpstreamRateLimitError,
    "ServiceUnavailableException": UpstreamUnavailableError,
    "InternalServerException": UpstreamUnavailableError,
    "ModelNotReadyException": UpstreamUnavailableError,
    "ModelErrorException": UpstreamUnavailableError,
    "ModelStreamErrorException": UpstreamUnavailableError,
    "ModelTimeoutException": UpstreamTimeoutError,
    "AccessDeniedException": UpstreamAuthError,
    "UnrecognizedClientException": UpstreamAuthError,
    "ExpiredTokenException": UpstreamAuthError,
    "InvalidSignatureException": UpstreamAuthError,
    "IncompleteSignature": UpstreamAuthError,
    "ValidationException": UpstreamRequestError,
    "ResourceNotFoundException": UpstreamRequestError,
}

_CREDENTIAL_ERRORS = (
    NoCredentialsError,
    PartialCredentialsError,
    CredentialRetrievalError,
    TokenRetrievalError,
    SSOError,
)
_TIMEOUTS = (ReadTimeoutError, ConnectTimeoutError, urllib3.exceptions.TimeoutError)
_CONNECTION_ERRORS = (
    EndpointConnectionError,
    ConnectionClosedError,
    ResponseStreamingError,
    urllib3.exceptions.HTTPError,
    EventStreamParserError,
)
TRANSPORT_ERRORS = (
    ClientError,
    BotoCoreError,
    urllib3.exceptions.HTTPError,
    EventStreamParserError,
)
"""Everything a boto3 call or an event stream raises for an upstream or network failure."""


def upstream_error(exc: Exception, deployment: Deployment) -> UpstreamError:
    """The platform error for a botocore failure. Messages name the model and Bedrock's
    error code, never credentials or exception text from the credential chain."""
    if isinstance(exc, ClientError):
        return _client_error(exc, deployment)
    if isinstance(exc, _TIMEOUTS):
        return UpstreamTimeoutError(
            f"Bedrock did not answer for {deployment.model} within {deployment.timeout_seconds:g}s"
        )
    if isinstance(exc, _CREDENTIAL_ERRORS):
        return UpstreamAuthError(
            "the gateway has no usable AWS credentials for Bedrock: configure the standard "
            f"AWS credential chain (IRSA, instance role or environment) ({type(exc).__name__})"
        )
    if isinstance(exc, _CONNECTION_ERRORS):
        return UpstreamUnavailableError(
            f"the connection to Bedrock failed for {deployment.model} ({type(exc).__name__})"
        )
    return UpstreamError(f"the Bedrock call failed for {deployment.model} ({type(exc).__name__})")


def _client_error(exc: ClientError, deployment: Deployment) -> UpstreamError:
    error = exc.response.get("Error", {})
    raw_code = str(error.get("Code", ""))
    code = raw_code[:1].upper() + raw_code[1:]  # stream events say "throttlingException"
    metadata = exc.response.get("ResponseMetadata", {})
    status = metadata.get("HTTPStatusCode")
    retry_after = _retry_after(metadata.get("HTTPHeaders", {}))
    kind = _ERROR_CODES.get(code) or _kind_for_status(status)
    message = _client_error_message(kind, code, str(error.get("Message", "")), deployment)
    return kind(message, retry_after=retry_after, upstream_status=status)


def _kind_for_status(status: int | None) -> type[UpstreamError]:
    if status == 429:
        return UpstreamRateLimitError
    if status is not None and status >= 500:
        return UpstreamUnavailableError
    if status is not None and 400 <= status < 500:
        return UpstreamRequestError
    return UpstreamError


def _client_error_message(
    kind: type[UpstreamError], code: str, detail: str, deployment: Deployment
) -> str:
    model = deployment.model
    if code == "ResourceNotFoundException":
        where = f" in {deployment.region}" if deployment.region else ""
        return f"the model id '{model}' is not available on Bedrock{where}"
    if kind is UpstreamRequestError:
        return f"Bedrock rejected the request for {model}: {detail[:1000] or code}"
    if kind is UpstreamAuthError:
        return (
            f"Bedrock refused the gateway's AWS identity for {model} ({code}): check the "
            "IAM role's bedrock:InvokeModel permissions and the account's model access"
        )
    if kind is UpstreamRateLimitError:
        return f"Bedrock is throttling requests for {model} ({code})"
    if kind is UpstreamTimeoutError:
        return f"the Bedrock model {model} timed out ({code})"
    return f"Bedrock could not serve {model} ({code or 'unknown error'})"


def _retry_after(headers: Mapping[str, str]) -> float | None:
    try:
        return float(headers["retry-after"])
    except (KeyError, ValueError):
        return None
