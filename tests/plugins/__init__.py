"""Test-only plug-ins: a service kind, a layer and a target defined entirely here,
registered through stackdef.registry alone (no edit to the core)."""
