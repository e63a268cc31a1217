"""OpenTelemetry traces and metrics for every service (docs/observability.md).

``runtime`` builds them from ``settings.telemetry`` into ``PlatformState.telemetry``;
``http`` makes the server and client spans; ``genai`` the model-call spans of the LLM
gateway; ``spans`` the helpers for agents, tools, retrieval and memory; ``metrics`` the
instruments. Importing this package needs only the OpenTelemetry API; the SDK and the
exporters (the ``telemetry`` extra) are imported when telemetry is switched on.
"""
