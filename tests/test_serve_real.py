"""The reference blueprint's model service, as compiled, runs on a real Ray Serve.

The serve config is taken verbatim from the compiled RayService's
serveConfigV2; the app code is made importable the way the pods do it
(``PYTHONPATH`` pointing at the shipped code folder). Ray runs on CPU in a
private subprocess that is torn down afterwards.
"""

from __future__ import annotations

import pytest

from stackdef.compile.ray import serve_config_of
from stackdef.kinds.model.compile import APP_CODE_MOUNT
from stackdef.pipeline import build
from tests.ray_harness import ServeHarness, http_request
from tests.util import BLUEPRINTS, REPO


@pytest.mark.ray_serve
def test_compiled_model_service_answers_http() -> None:
    built = build(BLUEPRINTS["reference-kind"])
    (doc,) = [o for o in built.compiled.objects() if o["kind"] == "RayService"]
    cfg = serve_config_of(doc)
    head = doc["spec"]["rayClusterConfig"]["headGroupSpec"]["template"]["spec"]["containers"][0]
    # The pods get the app on PYTHONPATH from the code ConfigMap mount.
    assert {"name": "PYTHONPATH", "value": APP_CODE_MOUNT} in head["env"]
    app_dir = REPO / "blueprints" / "reference" / "app"
    with ServeHarness(cfg, env={"PYTHONPATH": str(app_dir)}, timeout=180) as h:
        status, body = http_request(h.url + "/", {"text": "great fast and reliable service"})
        assert status == 200
        assert body == {"label": "positive", "score": 0.6}
        status, body = http_request(h.url + "/", {"text": "slow and broken"})
        assert (status, body["label"]) == (200, "negative")
        status, body = http_request(h.url + "/", {"nope": 1})
        assert status == 400
        # The probes stackdef sets answer on a real Ray 2.56 node: the worker
        # readiness greps "success" from the proxy and the raylet check, the
        # head and liveness probes GET the agent's /api/healthz.
        assert _get(h.url + "/-/healthz") == (200, "success")
        agent = h.last_status["agent_port"]
        assert _get(f"http://127.0.0.1:{agent}/api/local_raylet_healthz") == (200, "success")
        status, text = _get(f"http://127.0.0.1:{agent}/api/healthz")
        assert status == 200 and "raylet: success" in text
    worker = doc["spec"]["rayClusterConfig"]["workerGroupSpecs"][0]["template"]["spec"]["containers"][0]
    probe = worker["readinessProbe"]["exec"]["command"][-1]
    assert "localhost:8000/-/healthz | grep success" in probe and "/api/local_raylet_healthz | grep success" in probe
    assert head["readinessProbe"]["httpGet"] == {"path": "/api/healthz", "port": 52365}
    assert h.leftover_pids == []


def _get(url: str) -> tuple[int, str]:
    import urllib.request

    with urllib.request.urlopen(url, timeout=5) as r:
        return r.status, r.read().decode()
