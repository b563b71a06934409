"""Programs the stackdef-runtime image runs in the cluster (and ``stackdef`` runs locally).

Unlike the rest of stackdef these do I/O and import their heavy libraries (pandera, pandas,
prometheus_client, database drivers) — lazily, inside the functions that need them, so that
importing a module here stays cheap for the CLI. :mod:`stackdef.runtime.validate` validates
one dataset against its checks (the job document :func:`stackdef.layers.data.checks.job_document`
writes).
"""
