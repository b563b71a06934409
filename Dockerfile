# The stackdef-runtime image: what the data layer's pods run — dataset validation
# (python -m stackdef.runtime.validate), `feast apply`, materialization and the Feast
# feature server. Its tag is the stackdef version (pyproject.toml); the release workflow
# (.github/workflows/release-runtime.yml) builds and pushes it, `stackdef up` on kind
# builds it and loads it into the cluster.
#
#   docker build -t ghcr.io/stackdef/stackdef-runtime:0.1.0 .
ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS wheel
WORKDIR /src
COPY pyproject.toml README.md ./
COPY stackdef/ stackdef/
COPY providers/ providers/
COPY blueprints/ blueprints/
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM ${PYTHON_IMAGE}
# Non-root, with the uid the manifests run it as (runAsUser 10001).
RUN useradd --uid 10001 --gid 0 --create-home --shell /usr/sbin/nologin stackdef
COPY constraints.txt /tmp/constraints.txt
COPY --from=wheel /wheels /wheels
# The same pins as the tests (constraints.txt): the image runs what was tested.
RUN pip install --no-cache-dir -c /tmp/constraints.txt "$(ls /wheels/stackdef-*.whl)[runtime,runtime-cloud]" \
 && rm -rf /wheels /tmp/constraints.txt \
 && python -c "import stackdef.runtime.validate, feast, pandera"
USER 10001
WORKDIR /home/stackdef
ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
CMD ["python", "-m", "stackdef.runtime.validate", "--help"]
