"""Every port stackdef's pods listen on, declared once (Services, probes, NetworkPolicies read these)."""

from __future__ import annotations

#: Ray Serve's HTTP proxy and the vLLM OpenAI server: the services' endpoint.
HTTP = 8000
#: Ray's metrics export port (KubeRay sets ``metrics-export-port``).
RAY_METRICS = 8080
#: Ray dashboard (the KubeRay operator submits Serve configs to it).
RAY_DASHBOARD = 8265
#: Ray dashboard agent: health endpoints (``/api/healthz``, ``/api/local_raylet_healthz``).
RAY_DASHBOARD_AGENT = 52365
#: Ray GCS server.
RAY_GCS = 6379
#: Ray client server.
RAY_CLIENT = 10001

#: Ports a Ray head container declares (KubeRay's names: ``serve`` is how it finds the Serve port).
RAY_HEAD_PORTS = (
    ("gcs-server", RAY_GCS),
    ("dashboard", RAY_DASHBOARD),
    ("client", RAY_CLIENT),
    ("serve", HTTP),
    ("metrics", RAY_METRICS),
)
