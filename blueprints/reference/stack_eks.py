"""The reference stack on Amazon EKS (us-east-1): the GPU path of ``stack.py``."""

from __future__ import annotations

from stackdef.blueprints.reference.stack import build

from stackdef.spec import EksTarget

stack = build(EksTarget(type="eks", region="us-east-1"), name="reference")
