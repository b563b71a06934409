"""The reference blueprint's model service, as compiled, runs on a real Ray Serve.

The serve config is taken verbatim from the compiled RayService's
serveConfigV2; the app code is made importable the way the pods do it
(``PYTHONPATH`` pointing at the shipped code folder). Ray runs on CPU in a
private subprocess that is torn down afterwards.
"""

from __future__ import annotations

import pytest

from stackdef.compile.rayservice import APP_CODE_MOUNT, serve_config_of
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
    assert h.leftover_pids == []
