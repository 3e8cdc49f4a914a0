#!/usr/bin/python3
"""PyTorch side of `npm run bench:engine` (test/bench/engine.bench.ts): the same S15 training step as
the engine — the same model folder, batch and LoRA shapes (r 16 on all seven projections), AdamW —
on the CPU with the same thread count. Frozen weights are fp32 (the NF4 codes the engine uses are
not needed here: dequantizing once up front only makes the reference faster, so the ratio is
conservative). Protocol on stdin/stdout, one line each: "step" -> "<seconds>"; "quit" -> exit.
On start it prints "ready <peak RSS bytes>".
"""
import json
import math
import resource
import sys
import time

import numpy as np
import torch

from parity import read_safetensors


def main(model_dir, batch_path, threads, rank):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    cfg = json.load(open(f"{model_dir}/config.json"))
    base = {k: torch.from_numpy(v) for k, v in read_safetensors(f"{model_dir}/model.safetensors").items()}
    batch = read_safetensors(batch_path)
    tokens = torch.from_numpy(batch["tokens"].astype(np.int64))  # [B, T]
    B, T = tokens.shape
    C, H, L = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_hidden_layers"]
    KV = cfg.get("num_key_value_heads") or H
    D = C // H
    eps = cfg["rms_norm_eps"]
    scale = 2.0 * rank / rank  # alpha 32 / r 16
    names = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    lora = {}
    for l in range(L):
        for n in names:
            mod = "self_attn" if n[0] in "qkvo" else "mlp"
            w = base[f"model.layers.{l}.{mod}.{n}.weight"]
            a = torch.empty(rank, w.shape[1])
            torch.nn.init.kaiming_uniform_(a, a=math.sqrt(5))
            lora[(l, n)] = (a.requires_grad_(), torch.zeros(w.shape[0], rank).requires_grad_())
    opt = torch.optim.AdamW([p for ab in lora.values() for p in ab], lr=1e-4, weight_decay=0.0)
    inv_freq = 1.0 / (cfg.get("rope_theta", 10000.0) ** (torch.arange(0, D, 2).float() / D))
    freqs = torch.outer(torch.arange(T).float(), inv_freq)
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos(), emb.sin()
    mask = torch.full((T, T), float("-inf")).triu(1)

    def rot(x):
        return torch.cat((-x[..., D // 2:], x[..., :D // 2]), dim=-1)

    def norm(x, w):
        return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))

    def proj(x, l, n):
        mod = "self_attn" if n[0] in "qkvo" else "mlp"
        a, b = lora[(l, n)]
        return x @ base[f"model.layers.{l}.{mod}.{n}.weight"].T + (x @ a.T) @ b.T * scale

    lm_head = base.get("lm_head.weight", base["model.embed_tokens.weight"])

    def step():
        h = base["model.embed_tokens.weight"][tokens]
        for l in range(L):
            a = norm(h, base[f"model.layers.{l}.input_layernorm.weight"])
            q = proj(a, l, "q_proj").view(B, T, H, D).transpose(1, 2)
            k = proj(a, l, "k_proj").view(B, T, KV, D).transpose(1, 2)
            v = proj(a, l, "v_proj").view(B, T, KV, D).transpose(1, 2)
            q, k = q * cos + rot(q) * sin, k * cos + rot(k) * sin
            k, v = k.repeat_interleave(H // KV, 1), v.repeat_interleave(H // KV, 1)
            att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(D) + mask, dim=-1) @ v
            h = h + proj(att.transpose(1, 2).reshape(B, T, C), l, "o_proj")
            m = norm(h, base[f"model.layers.{l}.post_attention_layernorm.weight"])
            h = h + proj(torch.nn.functional.silu(proj(m, l, "gate_proj")) * proj(m, l, "up_proj"), l, "down_proj")
        logits = norm(h, base["model.norm.weight"])[:, :-1] @ lm_head.T
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), tokens[:, 1:].reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_([p for ab in lora.values() for p in ab], 1.0)
        opt.step()
        opt.zero_grad()
        return loss.item()

    print(f"ready {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}", flush=True)
    for line in sys.stdin:
        if line.strip() == "step":
            t0 = time.perf_counter()
            step()
            dt = time.perf_counter() - t0
            print(f"{dt} {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}", flush=True)
        else:
            break


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
