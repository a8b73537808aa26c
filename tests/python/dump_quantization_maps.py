"""Prints the quantization maps bitsandbytes and torchao build, as JSON of
hex floats, for tests/test_quantization_maps.cpp: {"capability": ...,
"maps": {name: [hex, ...]}}. Run under ATEN_CPU_CAPABILITY=default to get
the maps of PyTorch's default kernels."""
import json
import sys

import torch

maps = {}
try:
    import bitsandbytes.functional as bnb_functional

    maps["bitsandbytes-dynamic-signed"] = bnb_functional.create_dynamic_map(signed=True).tolist()
    maps["bitsandbytes-dynamic-unsigned"] = bnb_functional.create_dynamic_map(signed=False).tolist()
except ImportError as error:
    print(f"bitsandbytes not importable: {error}", file=sys.stderr)
try:
    from torchao.optim import subclass_4bit, subclass_8bit

    maps["torchao-8bit-signed"] = list(subclass_8bit.get_qmap_signed())
    maps["torchao-8bit-unsigned"] = list(subclass_8bit.get_qmap_unsigned())
    maps["torchao-4bit-signed"] = list(subclass_4bit.get_qmap_signed())
    maps["torchao-4bit-unsigned"] = list(subclass_4bit.get_qmap_unsigned())
except ImportError as error:
    print(f"torchao not importable: {error}", file=sys.stderr)

json.dump({"capability": torch.backends.cpu.get_cpu_capability(),
           "maps": {name: [float(x).hex() for x in values] for name, values in maps.items()}}, sys.stdout)
