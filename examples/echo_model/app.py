"""echo_model: a tiny, dependency-free Ray Serve "model" for tests and demos.

A deterministic word-list sentiment scorer wrapped in a Ray Serve deployment.
It needs nothing beyond ``ray[serve]`` (which brings Starlette), loads no
weights and touches no network, so a replica starts in a second or two on a CPU-only
machine. It is meant to be shipped through ``runtime_env.working_dir`` with
``import_path: app:app``.

HTTP API (paths are relative to the application's ``route_prefix``):

* ``POST /`` with JSON ``{"text": "..."}`` returns
  ``{"label": "positive"|"negative"|"neutral", "score": float in [-1, 1],
  "model": MODEL_ID, "version": VERSION}``. A body that is not JSON with a
  string ``text`` gets HTTP 422.
* ``GET /healthz`` (any GET under the prefix) returns
  ``{"status": "ok", "model": ..., "version": ...}``. Other methods get 405.
  (``/-/healthz`` and ``/-/routes`` at the server root belong to the Serve
  proxy itself; Serve additionally calls ``check_health`` on every replica.)

It is a plain ``__call__(starlette Request)`` deployment rather than
``@serve.ingress(FastAPI())`` on purpose: Ray 2.56.0's ``serve.ingress`` fails
with "cannot pickle '_thread.lock' object" under FastAPI >= 0.139.2
(ray-project/ray#64939, fixed on master by #64814, not in 2.56.x), so this
app works whatever FastAPI version the image carries.

Configuration:

* env ``ECHO_MODEL_ID`` (e.g. from ``runtime_env.env_vars``) names the model;
  default ``echo-sentiment``.
* ``user_config`` (deployment option, applied live through ``reconfigure``):
  ``{"neutral_band": 0.0..1.0, "version": "..."}``. ``|score| <= neutral_band``
  is labelled neutral (default 0.0: only a score of exactly 0 is neutral).

Score = (positive hits - negative hits) / (positive hits + negative hits),
0.0 when no listed word occurs; a word right after a negator ("not", "never",
"no", any "...n't") counts for the opposite side.
"""

from __future__ import annotations

import os
import re
from typing import Any

from ray import serve
from starlette.requests import Request
from starlette.responses import JSONResponse

POSITIVE = frozenset(
    "good great excellent amazing love loved lovely happy nice wonderful best "
    "fantastic awesome like liked enjoy enjoyed fast helpful perfect".split()
)
NEGATIVE = frozenset(
    "bad terrible awful hate hated horrible sad poor worst boring slow broken "
    "angry annoying useless ugly wrong fail failed".split()
)
NEGATORS = frozenset("not no never".split())
_TOKEN = re.compile(r"[a-z]+'[a-z]+|[a-z]+")


def score_text(text: str) -> float:
    """Deterministic sentiment score in [-1, 1] (pure function, no Ray needed)."""
    pos = neg = 0
    negate = False
    for tok in _TOKEN.findall(text.lower()):
        if tok in NEGATORS or tok.endswith("n't"):
            negate = True
            continue
        if tok in POSITIVE or tok in NEGATIVE:
            positive = (tok in POSITIVE) != negate
            pos, neg = (pos + 1, neg) if positive else (pos, neg + 1)
        negate = False
    return 0.0 if pos + neg == 0 else round((pos - neg) / (pos + neg), 6)


@serve.deployment(
    ray_actor_options={"num_cpus": 0.1},
    health_check_period_s=2,
)
class SentimentModel:
    """Ray Serve deployment around :func:`score_text`."""

    def __init__(self) -> None:
        self.model_id = os.environ.get("ECHO_MODEL_ID", "echo-sentiment")
        self.neutral_band = 0.0
        self.version = "1"

    async def reconfigure(self, config: dict[str, Any]) -> None:
        """Apply ``user_config`` (called by Serve on start and on every change)."""
        band = float(config.get("neutral_band", 0.0))
        if not 0.0 <= band <= 1.0:
            raise ValueError(f"neutral_band must be in [0, 1], got {band}")
        self.neutral_band = band
        self.version = str(config.get("version", self.version))

    async def check_health(self) -> None:
        """Called periodically by Serve; raising marks the replica unhealthy."""

    async def __call__(self, request: Request) -> JSONResponse:
        if request.method == "GET":
            return JSONResponse({"status": "ok", "model": self.model_id, "version": self.version})
        if request.method != "POST":
            return JSONResponse({"detail": "use POST / or GET /healthz"}, status_code=405)
        try:
            payload = await request.json()
        except ValueError:
            payload = None
        text = payload.get("text") if isinstance(payload, dict) else None
        if not isinstance(text, str):
            return JSONResponse({"detail": 'body must be {"text": "<string>"}'}, status_code=422)
        return JSONResponse(self.predict(text))

    def predict(self, text: str) -> dict[str, Any]:
        score = score_text(text)
        if abs(score) <= self.neutral_band:
            label = "neutral"
        else:
            label = "positive" if score > 0 else "negative"
        return {"label": label, "score": score, "model": self.model_id, "version": self.version}


app = SentimentModel.bind()
