#!/usr/bin/env python3
"""Reference NF4 quantization, written independently of the engine from the bitsandbytes algorithm
(formats.md §7; bnb csrc kQuantizeBlockwise + dQuantizeNF4 + dQuantize<0>, functional.quantize_4bit).

Writes a safetensors file of inputs and expected outputs; the engine's C++ test
`nf4_matches_python_reference` runs this script and compares every code and scale bit for bit.

    /usr/bin/python3 test/reference/nf4_reference.py --out /tmp/nf4_ref.safetensors

Formulations differ from the engine on purpose, so one checks the other:
- the NF4 code is the count of float32 thresholds strictly below the scaled value (the engine walks
  bnb's decision tree); NaN compares false everywhere and counts 0;
- thresholds are bnb's decimal literals rounded straight to float32 with exact rational arithmetic,
  as nvcc rounds `0.8614784181118011f` (a detour through float64 differs for 4 of the 15);
- the 8-bit dynamic code is rebuilt with torch (as bnb's create_dynamic_map does) when torch imports.

Arithmetic is exact IEEE float32 (numpy). bnb's release CUDA builds use --use_fast_math, where
1.0f / absmax is an approximate reciprocal (within 1 ulp) and subnormals flush to zero; this reference,
like the engine, follows the kernel's source in IEEE arithmetic (see native/include/nf4.h).

Exit status 77 (and a message on stderr) when numpy is missing: the caller skips the comparison.
"""

import argparse
import json
import struct
import sys
from fractions import Fraction

try:
    import numpy as np
except ImportError:  # pragma: no cover - depends on the machine
    sys.stderr.write("numpy is not available to this python; install python3-numpy to run the NF4 reference\n")
    sys.exit(77)

F32 = np.float32

NF4_CODE = [
    -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
    -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
    0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
    0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0,
]

# The comparison constants of bnb's dQuantizeNF4, as written in the CUDA source (ascending).
NF4_THRESHOLD_TEXT = [
    "-0.8480964004993439", "-0.6106329262256622", "-0.4599952697753906", "-0.33967943489551544",
    "-0.23460740596055984", "-0.13791173323988914", "-0.045525018125772476", "0.03979014977812767",
    "0.1202552504837513", "0.2035212516784668", "0.2920137718319893", "0.3893125355243683",
    "0.5016634166240692", "0.6427869200706482", "0.8614784181118011",
]


def decimal_to_f32(text):
    """Round a decimal literal to the nearest float32 (ties to even), exactly, as a C compiler does."""
    exact = Fraction(text)
    guess = F32(float(exact))  # within one float32 step of the answer
    candidates = [np.nextafter(guess, F32(-np.inf)), guess, np.nextafter(guess, F32(np.inf))]
    best = None
    for c in candidates:
        dist = abs(Fraction(float(c)) - exact)
        even = (int(np.array(c, dtype=np.float32).view(np.uint32)) & 1) == 0
        key = (dist, not even)
        if best is None or key < best[0]:
            best = (key, c)
    return F32(best[1])


NF4_CODE_F32 = np.array(NF4_CODE, dtype=F32)
NF4_THRESHOLDS = np.array([decimal_to_f32(t) for t in NF4_THRESHOLD_TEXT], dtype=F32)


def nf4_quantize(x):
    """x: float32[n] -> (packed uint8[(n+1)//2], absmax float32[ceil(n/64)])."""
    x = np.asarray(x, dtype=F32)
    n = x.size
    nblocks = (n + 63) // 64
    padded = np.zeros(nblocks * 64, dtype=F32)
    padded[:n] = x
    blocks = padded.reshape(nblocks, 64)
    valid = (np.arange(nblocks * 64) < n).reshape(nblocks, 64)
    absmax = np.where(valid, np.abs(blocks), F32(0)).max(axis=1).astype(F32)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        scale = (F32(1.0) / absmax).astype(F32)
        scaled = (blocks * scale[:, None]).astype(F32)
        codes = (scaled[..., None] > NF4_THRESHOLDS).sum(axis=-1).astype(np.uint8).reshape(-1)
    n_even = n + (n & 1)
    codes = codes[:n_even]  # an odd tail keeps the code of its padding 0 * scale, as bnb stores it
    packed = ((codes[0::2] << 4) | codes[1::2]).astype(np.uint8)
    return packed, absmax


def nf4_dequantize(packed, absmax, n):
    codes = np.empty(packed.size * 2, dtype=np.uint8)
    codes[0::2] = packed >> 4
    codes[1::2] = packed & 0x0F
    values = NF4_CODE_F32[codes[:n]]
    return (values * absmax[np.arange(n) // 64]).astype(F32)


def dynamic_map_torch():
    """bnb create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8), computed with torch."""
    import torch

    data = []
    for i in range(7):
        boundaries = torch.linspace(0.1, 1, 2**i + 1)
        means = (boundaries[:-1] + boundaries[1:]) / 2.0
        data += ((10 ** (-6 + i)) * means).tolist()
        data += (-(10 ** (-6 + i)) * means).tolist()
    data.append(0)
    data.append(1.0)
    data.sort()
    return np.array(data, dtype=F32)


def dquantize_index(code, x):
    """bnb dQuantize<0> (non-stochastic): binary search from pivot 127, then a float32 midpoint."""
    pivot, upper_pivot, lower_pivot = 127, 255, 0
    lower, upper = F32(-1.0), F32(1.0)
    val = code[pivot]
    i = 64
    while i > 0:
        if x > val:
            lower_pivot, lower = pivot, val
            pivot += i
        else:
            upper_pivot, upper = pivot, val
            pivot -= i
        val = code[pivot]
        i >>= 1
    if upper_pivot == 255:
        upper = code[upper_pivot]
    if lower_pivot == 0:
        lower = code[lower_pivot]
    if x > val:
        midpoint = F32((F32(upper) + F32(val)) * F32(0.5))
        return upper_pivot if x > midpoint else pivot
    midpoint = F32((F32(lower) + F32(val)) * F32(0.5))
    return lower_pivot if x < midpoint else pivot


def double_quantize(absmax, code):
    """absmax float32[nb] -> (qabsmax uint8[nb], absmax2 float32[ceil(nb/256)], offset float32, dequant)."""
    absmax = np.asarray(absmax, dtype=F32)
    nb = absmax.size
    offset = F32(np.sum(absmax.astype(np.float64)) / nb)
    centred = (absmax - offset).astype(F32)
    n2 = (nb + 255) // 256
    q = np.zeros(nb, dtype=np.uint8)
    absmax2 = np.zeros(n2, dtype=F32)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for b in range(n2):
            chunk = centred[b * 256:(b + 1) * 256]
            a2 = F32(np.abs(chunk).max())
            absmax2[b] = a2
            scale = F32(F32(1.0) / a2)
            for j, v in enumerate(chunk):
                q[b * 256 + j] = dquantize_index(code, F32(v * scale))
        dequant = ((code[q] * absmax2[np.arange(nb) // 256]).astype(F32) + offset).astype(F32)
    return q, absmax2, offset, dequant


def adversarial_cases():
    """Blocks aimed at the decision boundaries; each list is one tensor."""
    cases = []
    t = NF4_THRESHOLDS
    ties = []
    for th in t:  # exactly on, one step below and above every threshold, in blocks whose absmax is 1
        ties += [th, np.nextafter(th, F32(-2)), np.nextafter(th, F32(2))]
    for text in NF4_THRESHOLD_TEXT:  # the float64-rounded neighbours a careless port would use
        ties.append(F32(float(text)))
    ties = np.array(ties, dtype=F32)
    block = []
    for start in range(0, ties.size, 63):
        chunk = list(ties[start:start + 63])
        chunk += [F32(0.0)] * (63 - len(chunk))
        block += [F32(1.0)] + chunk
    cases.append(np.array(block, dtype=F32))
    # absmax 2: exact scaling by 0.5; absmax -1 (negative max); absmax 3: inexact 1/3, x*scale near ties
    cases.append(np.concatenate([[F32(2.0)], (ties[:63] * F32(2)).astype(F32)]).astype(F32))
    cases.append(np.concatenate([[F32(-1.0)], -ties[:63]]).astype(F32))
    near = []
    for th in t:
        base = F32(th * F32(3.0))
        v = base
        for _ in range(3):
            v = np.nextafter(v, F32(-10))
        for _ in range(7):
            near.append(v)
            v = np.nextafter(v, F32(10))
    near = np.array(near, dtype=F32)
    for start in range(0, near.size, 63):
        chunk = list(near[start:start + 63]) + [F32(0.0)] * max(0, 63 - near[start:start + 63].size)
        cases.append(np.array([F32(3.0)] + chunk, dtype=F32))
    # zero blocks (incl. negative zeros), one nonzero, a subnormal absmax, huge values, odd tails
    cases.append(np.zeros(64, dtype=F32))
    cases.append(np.array([-0.0] * 64, dtype=F32))
    cases.append(np.array([0.0, -0.0] * 40 + [0.0], dtype=F32))  # 81: a zero partial block, odd
    one = np.zeros(64, dtype=F32)
    one[17] = F32(-0.37)
    cases.append(one)
    cases.append(np.array([1e-40, -1e-40, 5e-41, 0.0] * 16, dtype=F32))
    cases.append(np.array([3e38, -1e38, 1.0, 0.0] * 16 + [2.5e38], dtype=F32))
    return cases


def write_safetensors(path, tensors):
    header = {}
    blobs = []
    offset = 0
    for name, arr in tensors:
        arr = np.ascontiguousarray(arr)
        dtype = {np.dtype(np.float32): "F32", np.dtype(np.uint8): "U8"}[arr.dtype]
        raw = arr.tobytes()
        header[name] = {"dtype": dtype, "shape": list(arr.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":"))
    text += " " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text.encode("utf-8"))
        for raw in blobs:
            f.write(raw)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--seed", type=int, default=20240501)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)

    inputs = []
    for n in (1, 2, 63, 64, 65, 127, 128, 1000, 4097, 100003):
        inputs.append((rng.standard_normal(n) * rng.uniform(0.001, 3.0)).astype(F32))
    inputs.append((rng.standard_t(3, 64 * 300) * 0.02).astype(F32))  # heavy tails, like real weights
    inputs += adversarial_cases()

    tensors = [("nf4_thresholds", NF4_THRESHOLDS)]
    total_values = 0
    for k, x in enumerate(inputs):
        packed, absmax = nf4_quantize(x)
        tensors += [(f"case{k}.input", x), (f"case{k}.packed", packed), (f"case{k}.absmax", absmax),
                    (f"case{k}.dequant", nf4_dequantize(packed, absmax, x.size))]
        total_values += x.size

    try:
        code = dynamic_map_torch()
        tensors.append(("dynamic_code", code))
    except ImportError:
        code = None
        sys.stderr.write("torch is not available: the 8-bit dynamic code book is not regenerated\n")
    dq_total = 0
    if code is not None:
        dq_inputs = [nf4_quantize(x)[1] for x in inputs if x.size >= 1000]
        dq_inputs.append(np.full(300, F32(0.25)))  # every centred value 0: a zero second-level block
        dq_inputs.append(np.array([F32(0.5)]))
        dq_inputs.append(rng.uniform(0, 1, 1025).astype(F32))
        for k, a in enumerate(dq_inputs):
            q, a2, off, deq = double_quantize(a, code)
            tensors += [(f"dq{k}.absmax", a), (f"dq{k}.qabsmax", q), (f"dq{k}.absmax2", a2),
                        (f"dq{k}.offset", np.array([off], dtype=F32)), (f"dq{k}.dequant", deq)]
            dq_total += a.size
    write_safetensors(args.out, tensors)
    print(json.dumps({"cases": len(inputs), "values": int(total_values), "dqValues": dq_total,
                      "torch": code is not None}))


if __name__ == "__main__":
    main()
