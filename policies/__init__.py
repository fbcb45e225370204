"""drkit's Pulumi CrossGuard policy pack (``pulumi preview --policy-pack policies``).

``rules.POLICIES`` lists every policy; ``__main__.py`` serves them as the pack
``drkit-imaging``. The modules import each other both as this package (tests, tooling)
and as top-level modules (the Pulumi language host runs ``python policies/``).
"""
