"""Kyverno's policy engine, emulated for the features the collection's policies use.

Written from Kyverno's documentation and source (kyverno v1.16: pkg/engine/variables, pkg/engine/jmespath,
pkg/utils/image, pkg/engine/variables/operator), not from the collection's code: the image-scan gate's
Python verdicts are checked against what this engine makes of the policy. JMESPath is evaluated by the
PyPI ``jmespath`` package (an independent implementation of the specification) with Kyverno's extra
functions added. What the engine does not emulate it refuses with an error, never by passing.
"""
