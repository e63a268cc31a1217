"""Typed HTTP clients for the platform's services. The same class calls a service over the
network or in-process (pass an ``httpx.ASGITransport``)."""
