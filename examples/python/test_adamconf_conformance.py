"""adamconf's property suite as pytest tests: copy this file into your tests.

    ADAMCONF=build/adamconf PYTHONPATH=integrations/pytest /usr/bin/python3 -m pytest examples/python/test_adamconf_conformance.py

Each assignment below is one parametrized test, one pytest test per property
(test_minimal_adam[trajectory-agrees-with-reference], ...). Point `impl` at
your adapter (adapters/template/minimal_adapter.py shows one in 30 lines).
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "integrations", "pytest"))  # installed: PREFIX/share/adamconf/python
from adamconf_pytest import property_tests  # noqa: E402

ADAPTERS = os.path.join(HERE, "..", "..", "adapters")

# Kingma & Ba's Algorithm 1 in plain Python floats.
test_minimal_adam = property_tests(
    impl="%s %s" % (sys.executable, os.path.join(ADAPTERS, "template", "minimal_adapter.py")),
    preset="kingma-ba", dtype="float64", cases=20)

# PyTorch's torch.optim.AdamW. The large classes (2^20-element tensors, 10^4
# steps) take minutes through Python; PyTorch 1.13 fails
# large-step-counts-agree-with-reference for a real reason (its float32 step
# count stops at 2^24), so this example leaves both out.
test_torch_adamw = property_tests(
    impl="%s %s" % (sys.executable, os.path.join(ADAPTERS, "torch", "torch_adapter.py")),
    preset="pytorch-adamw", dtype="float32", cases=10,
    skip=["large-tensors-agree-with-reference", "long-trajectory-agrees-with-reference",
          "large-step-counts-agree-with-reference"])
