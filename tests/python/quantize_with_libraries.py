"""Quantizes fixed random blocks with torchao's 8-bit and 4-bit quantizers and
bitsandbytes' CPU blockwise quantizer, for tests/test_quantization_maps.cpp.
Prints JSON: {name: {"block": B, "map": [hex], "inputs": [hex], "scales":
[hex], "codes": [int]}}; the inputs are float32 values of several kinds
(Gaussian, log-uniform over 11 decades, uniform, and the map's own codes and
midpoints scaled by a block maximum)."""
import json
import sys

import torch

torch.manual_seed(20261203)


def inputs(n, block):
    gaussian = torch.randn(n)
    log_uniform = torch.exp(torch.empty(n).uniform_(-25, 0)) * (torch.randint(0, 2, (n,)) * 2 - 1)
    uniform = torch.empty(n).uniform_(-1, 1)
    return torch.cat([gaussian, log_uniform, uniform]).float()


def on_codes(qmap, block):
    """Each block: its maximum 1, then the codes and the float32 midpoints between neighbours."""
    values = torch.cat([qmap, (qmap[1:] + qmap[:-1]) / 2])
    blocks = [torch.cat([torch.ones(1), values[i:i + block - 1]]) for i in range(0, len(values), block - 1)]
    blocks[-1] = torch.cat([blocks[-1], torch.zeros(block - len(blocks[-1]))])
    return torch.cat(blocks).float()


def entry(block, qmap, values, codes, scales):
    return {"block": block, "map": [float(x).hex() for x in qmap.tolist()],
            "inputs": [float(x).hex() for x in values.tolist()],
            "scales": [float(x).hex() for x in scales.tolist()], "codes": codes.int().tolist()}


out = {}
try:
    from torchao.optim import subclass_4bit, subclass_8bit
    from torchao.optim.quant_utils import quantize_4bit_with_qmap, quantize_8bit_with_qmap, scale_tensor

    for name, qmap, quantize, block in [
        ("torchao-8bit-signed", torch.tensor(subclass_8bit.get_qmap_signed()), quantize_8bit_with_qmap, 256),
        ("torchao-8bit-unsigned", torch.tensor(subclass_8bit.get_qmap_unsigned()), quantize_8bit_with_qmap, 256),
        ("torchao-4bit-signed", torch.tensor(subclass_4bit.get_qmap_signed()), quantize_4bit_with_qmap, 128),
        ("torchao-4bit-unsigned", torch.tensor(subclass_4bit.get_qmap_unsigned()), quantize_4bit_with_qmap, 128),
    ]:
        values = torch.cat([inputs(1 << 13, block), on_codes(qmap, block)])
        if "unsigned" in name:
            values = values.abs()
        scaled, scales = scale_tensor(values, block)
        out[name] = entry(block, qmap, values, quantize(scaled, qmap), scales)
except ImportError as error:
    print(f"torchao not importable: {error}", file=sys.stderr)
try:
    import bitsandbytes.functional as bnb_functional

    for name, signed in [("bitsandbytes-cpu-8bit-signed", True), ("bitsandbytes-cpu-8bit-unsigned", False)]:
        qmap = bnb_functional.create_dynamic_map(signed=signed)
        values = inputs(1 << 13, 256)
        if not signed:
            values = values.abs()
        codes, state = bnb_functional.quantize_blockwise(values, code=qmap.clone(), blocksize=256)
        out[name] = entry(256, qmap, values, codes, state.absmax)
except ImportError as error:
    print(f"bitsandbytes not importable: {error}", file=sys.stderr)
json.dump(out, sys.stdout)
