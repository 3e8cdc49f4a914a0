#!/usr/bin/python3
"""PyTorch reference for the engine's parity test (native/tests/test_parity.cpp).

Builds the same Llama / Mistral / Qwen2 decoder by hand, following Hugging Face's modeling code
(rotate-half RoPE with llama3 scaling, repeat_kv, causal + sliding-window mask, RMSNorm in fp32, SwiGLU, q/k/v biases,
tied embeddings) with PEFT LoRA (y = base(x) + B(A(x)) * scale), from the same files the engine read:

  <dir>/config.json, <dir>/model.safetensors       the base model
  <dir>/adapter/adapter_model.safetensors          LoRA A/B (PEFT names), adapter_config.json
  <dir>/nf4.safetensors (optional)                 NF4 codes + absmax of the seven projections:
                                                   the reference dequantizes the same codes
  <dir>/batch.safetensors                          tokens, trained mask, sequence lengths
(one or more <dir> arguments; torch starts once for all of them)

It runs in float64 and writes <dir>/reference.safetensors: loss (mean over trained tokens), logits
[N, V] and the gradient of every LoRA tensor under its PEFT name.
Run with Debian's /usr/bin/python3 (python3-torch); no transformers or safetensors package needed.
"""
import json
import math
import struct
import sys

import numpy as np
import torch

DTYPES = {"F32": np.float32, "F16": np.float16, "I32": np.int32, "U8": np.uint8, "F64": np.float64}
NF4 = [-1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635,
       -0.18477343022823334, -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725,
       0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941,
       0.7229568362236023, 1.0]


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        arr = np.frombuffer(data[base + b:base + e], dtype=DTYPES[info["dtype"]]).reshape(info["shape"])
        out[name] = arr.copy()
    return out


def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, arr in tensors.items():
        arr = np.ascontiguousarray(arr, dtype=np.float64)
        raw = arr.tobytes()
        header[name] = {"dtype": "F64", "shape": list(arr.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for raw in blobs:
            f.write(raw)


def dequantize_nf4(codes, absmax, shape):
    n = int(np.prod(shape))
    hi = codes >> 4
    lo = codes & 0x0F
    idx = np.stack([hi, lo], axis=1).reshape(-1)[:n]
    table = np.array(NF4, dtype=np.float32)
    vals = table[idx] * np.repeat(absmax.astype(np.float32), 64)[:n]  # float32, as bitsandbytes
    return vals.reshape(shape)


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def rms_norm(x, w, eps):
    var = x.pow(2).mean(-1, keepdim=True)
    return w * (x * torch.rsqrt(var + eps))


def main(d):
    cfg = json.load(open(f"{d}/config.json"))
    acfg = json.load(open(f"{d}/adapter/adapter_config.json"))
    base = {k: torch.tensor(v, dtype=torch.float64) for k, v in read_safetensors(f"{d}/model.safetensors").items()}
    try:
        nf4 = read_safetensors(f"{d}/nf4.safetensors")
    except FileNotFoundError:
        nf4 = {}
    for name in list(base):
        if name + ".nf4_codes" in nf4:
            w = dequantize_nf4(nf4[name + ".nf4_codes"], nf4[name + ".nf4_absmax"], tuple(base[name].shape))
            base[name] = torch.tensor(w, dtype=torch.float64)
    lora_np = read_safetensors(f"{d}/adapter/adapter_model.safetensors")
    lora = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in lora_np.items()}
    batch = read_safetensors(f"{d}/batch.safetensors")
    tokens, trained, lens = batch["tokens"].astype(np.int64), batch["trained"], batch["lens"]

    C = cfg["hidden_size"]
    H = cfg["num_attention_heads"]
    KV = cfg.get("num_key_value_heads") or H
    D = cfg.get("head_dim") or C // H
    L = cfg["num_hidden_layers"]
    eps = cfg["rms_norm_eps"]
    theta = cfg.get("rope_theta", 10000.0)
    window = cfg.get("sliding_window") if cfg["model_type"] == "mistral" else None
    r = acfg["r"]
    scale = acfg["lora_alpha"] / (math.sqrt(r) if acfg.get("use_rslora") else r)
    embed = base["model.embed_tokens.weight"]
    lm_head = embed if cfg.get("tie_word_embeddings") else base["lm_head.weight"]

    def proj(x, layer, module, name):
        path = f"model.layers.{layer}.{module}.{name}"
        y = x @ base[path + ".weight"].T
        if path + ".bias" in base:
            y = y + base[path + ".bias"]
        a = lora.get(f"base_model.model.{path}.lora_A.weight")
        if a is not None:
            b = lora[f"base_model.model.{path}.lora_B.weight"]
            y = y + (x @ a.T) @ b.T * scale
        return y

    inv_freq = 1.0 / (theta ** (torch.arange(0, D, 2, dtype=torch.int64).float() / D))  # float32 as HF
    rs = cfg.get("rope_scaling") or {}
    if rs.get("rope_type", rs.get("type")) == "llama3":  # HF _compute_llama3_parameters
        factor, low, high = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"]
        old = rs["original_max_position_embeddings"]
        low_wl, high_wl = old / low, old / high
        wavelen = 2 * math.pi / inv_freq
        scaled = torch.where(wavelen > low_wl, inv_freq / factor, inv_freq)
        smooth = (old / wavelen - low) / (high - low)
        smoothed = (1 - smooth) * scaled / factor + smooth * scaled
        medium = ~(wavelen < high_wl) * ~(wavelen > low_wl)
        inv_freq = torch.where(medium, smoothed, scaled)

    def forward(ids):
        T = len(ids)
        pos = torch.arange(T).float()
        freqs = torch.outer(pos, inv_freq)
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos().double(), emb.sin().double()
        mask = torch.ones(T, T, dtype=torch.bool).tril()
        if window:
            mask &= torch.arange(T)[None, :] > torch.arange(T)[:, None] - window
        h = embed[torch.tensor(ids)]
        for l in range(L):
            a = rms_norm(h, base[f"model.layers.{l}.input_layernorm.weight"], eps)
            q = proj(a, l, "self_attn", "q_proj").view(T, H, D).transpose(0, 1)
            k = proj(a, l, "self_attn", "k_proj").view(T, KV, D).transpose(0, 1)
            v = proj(a, l, "self_attn", "v_proj").view(T, KV, D).transpose(0, 1)
            q = q * cos + rotate_half(q) * sin
            k = k * cos + rotate_half(k) * sin
            k = k.repeat_interleave(H // KV, dim=0)  # repeat_kv
            v = v.repeat_interleave(H // KV, dim=0)
            s = (q @ k.transpose(1, 2)) / math.sqrt(D)
            s = s.masked_fill(~mask, float("-inf"))
            att = (torch.softmax(s, dim=-1) @ v).transpose(0, 1).reshape(T, H * D)
            h = h + proj(att, l, "self_attn", "o_proj")
            m = rms_norm(h, base[f"model.layers.{l}.post_attention_layernorm.weight"], eps)
            g = proj(m, l, "mlp", "gate_proj")
            u = proj(m, l, "mlp", "up_proj")
            h = h + proj(torch.nn.functional.silu(g) * u, l, "mlp", "down_proj")
        return rms_norm(h, base["model.norm.weight"], eps) @ lm_head.T

    all_logits, loss_sum, count, at = [], 0.0, 0, 0
    for n in lens:
        ids = tokens[at:at + n].tolist()
        logits = forward(ids)
        all_logits.append(logits)
        targets = [t for t in range(n - 1) if trained[at + t + 1]]
        if targets:
            lp = torch.log_softmax(logits[targets], dim=-1)
            loss_sum = loss_sum - lp[torch.arange(len(targets)), torch.tensor([ids[t + 1] for t in targets])].sum()
            count += len(targets)
        at += n
    loss = loss_sum / count
    loss.backward()
    out = {"loss": loss.detach().reshape(1).numpy(), "logits": torch.cat(all_logits).detach().numpy()}
    for k, v in lora.items():
        out[k] = v.grad.numpy()
    write_safetensors(f"{d}/reference.safetensors", out)
    print(f"parity.py: loss {loss.item():.8f} over {count} trained tokens")


if __name__ == "__main__":
    for folder in sys.argv[1:]:
        main(folder)
