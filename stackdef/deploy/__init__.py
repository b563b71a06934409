"""The deploy edge: the only code that imports pulumi / pulumi_kubernetes.

- ``components``: ComponentResources wrapping the compiled manifests (one
  registered resource per manifest, ``parent=self``, ``register_outputs``).
- ``program``: the Pulumi program (used by ``Pulumi.yaml`` and by
  ``stackdef up``): reads the spec named in config, builds it with the same
  offline pipeline, connects to the target's cluster and registers the stack.
- ``automation``: ``stackdef up | preview | destroy`` through the Automation API.
"""
