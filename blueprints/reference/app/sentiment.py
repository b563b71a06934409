"""A tiny sentiment model served by Ray Serve — the reference stack's classic model.

Pure Python (a scored word list), so it runs anywhere Ray runs, including the
CPU-only kind target and the tests' local Ray Serve. POST ``/`` with
``{"text": "..."}`` returns ``{"label": "positive"|"negative"|"neutral",
"score": float}``; GET ``/healthz`` answers ``ok``.
"""

from __future__ import annotations

import re

from ray import serve
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse

POSITIVE = {"good", "great", "excellent", "love", "happy", "fast", "reliable", "nice", "best", "wonderful"}
NEGATIVE = {"bad", "terrible", "awful", "hate", "sad", "slow", "broken", "worst", "poor", "angry"}


def score(text: str) -> tuple[str, float]:
    words = re.findall(r"[a-z']+", text.lower())
    if not words:
        return "neutral", 0.0
    s = (sum(w in POSITIVE for w in words) - sum(w in NEGATIVE for w in words)) / len(words)
    label = "positive" if s > 0 else "negative" if s < 0 else "neutral"
    return label, round(s, 4)


@serve.deployment
class Sentiment:
    async def __call__(self, request: Request):
        if request.method == "GET" and request.url.path.rstrip("/").endswith("healthz"):
            return PlainTextResponse("ok")
        try:
            body = await request.json()
            text = body["text"]
            if not isinstance(text, str):
                raise TypeError
        except Exception:
            return JSONResponse({"error": 'send JSON {"text": "..."}'}, status_code=400)
        label, value = score(text)
        return {"label": label, "score": value}


app = Sentiment.bind()
