"""stackdef: declarative infrastructure-as-code for the ML serving layer.

Stages, one direction: spec (pydantic, no I/O) → resolve (pure decisions) →
compile (pure: plain manifest dicts) → plan / render (pure, fast) → deploy
edge (``stackdef.deploy``: the only code importing Pulumi).
"""

__version__ = "0.1.0"
