#!/usr/bin/env python3
"""PyTorch side of `npm run bench:gpu` (scripts/bench-gpu.mjs), run with the GPU machine's own python.

  matmul  torch.matmul (cuBLAS) on the M7 projection shapes (Mistral-7B: hidden 4096, FFN 14336, 8 KV heads
          of 128; N tokens), bf16 in and out, in both layouts training needs: forward y = x @ W.T and
          backward dx = dy @ W. Same timing as tunesmith_gemm_bench: CUDA events around `reps` calls
          after a warm-up, median of `trials`.
  m7      the M7 train step (performance.md): a Mistral-7B-shaped model with random bf16 weights made on
          the GPU, LoRA r 16 (alpha 32) on q,k,v,o,gate,up,down kept in bf16 ("bf16 LoRA", faster than
          bitsandbytes QLoRA, so the comparison is conservative), AdamW, micro-batch 1 × N tokens, with and
          without gradient checkpointing. transformers + peft when both import, else the same model written
          out in plain torch (SDPA attention, LoRA as two extra matmuls); the output says which.

  compare the GEMM table: tunesmith_gemm_bench's JSON files (one per round) against torch.matmul's (matmul
          mode's), median over rounds per shape and variant, the ratio torch time / ours per shape, and one
          ratio per variant weighted by how often each shape occurs in a layer (q,k,v,o,gate,up,down, forward
          and backward). Needs no torch; used by scripts of both paths (bench:gpu and test/gpu/run.sh).

Prints one JSON object on stdout; progress goes to stderr.
Usage: torch_reference.py matmul [--tokens 2048] [--reps 20] [--trials 5]
       torch_reference.py m7 [--tokens 2048] [--steps 5] [--layers 32] [--impl auto|hf|plain]
       torch_reference.py m7 --smoke   (a tiny model of the same code on the CPU: checks the script, not speed)
       torch_reference.py compare --ours OURS.json [...] --torch TORCH.json [...]
"""
import argparse
import json
import math
import statistics
import sys
import time

try:  # compare needs no torch; the other modes say so when it is missing
    import torch
    import torch.nn.functional as F
    import torch.utils.checkpoint
    Module = torch.nn.Module
except ImportError as e:
    torch, Module, TORCH_MISSING = None, object, str(e)

M7 = dict(hidden=4096, layers=32, heads=32, kv_heads=8, ffn=14336, vocab=32000, rope_theta=10000.0, eps=1e-5)
PROJ_SHAPES = [("q_proj/o_proj", 4096, 4096), ("k_proj/v_proj", 1024, 4096),
               ("gate_proj/up_proj", 14336, 4096), ("down_proj", 4096, 14336)]
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def device_facts():
    p = torch.cuda.get_device_properties(0)
    return {"torch": torch.__version__, "cuda": torch.version.cuda, "device": p.name,
            "sm": f"{p.major}.{p.minor}", "sms": p.multi_processor_count}


def median_ms(call, reps, trials):
    for _ in range(3):
        call()
    torch.cuda.synchronize()
    start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    times = []
    for _ in range(trials):
        start.record()
        for _ in range(reps):
            call()
        stop.record()
        stop.synchronize()
        times.append(start.elapsed_time(stop) / reps)
    return statistics.median(times)


def bench_matmul(args):
    T = args.tokens
    out = device_facts()
    out["bf16_reduced_precision_reduction"] = torch.backends.cuda.matmul.allow_bf16_reduced_precision_reduction
    results = []
    for name, O, I in PROJ_SHAPES:
        w = torch.randn(O, I, device="cuda", dtype=torch.bfloat16) * 0.02
        x = torch.randn(T, I, device="cuda", dtype=torch.bfloat16)
        dy = torch.randn(T, O, device="cuda", dtype=torch.bfloat16)
        y = torch.empty(T, O, device="cuda", dtype=torch.bfloat16)
        dx = torch.empty(T, I, device="cuda", dtype=torch.bfloat16)
        for layout, call, (M, N, K) in [
            ("forward", lambda: torch.matmul(x, w.t(), out=y), (T, O, I)),
            ("backward", lambda: torch.matmul(dy, w, out=dx), (T, I, O)),
        ]:
            ms = median_ms(call, args.reps, args.trials)
            results.append({"proj": name, "layout": layout, "M": M, "N": N, "K": K, "ms": ms,
                            "tflops": 2.0 * M * N * K / (ms * 1e-3) / 1e12})
            log(f"torch.matmul {name} {layout}: {ms:.3f} ms, {results[-1]['tflops']:.0f} TFLOP/s")
        del w, x, dy, y, dx
    out["gemm"] = results
    return out


# ---- M7 in plain torch (used when transformers or peft is missing) ----------------------------------------

class PlainMistral(Module):
    """Mistral-7B-shaped decoder, bf16, frozen base, LoRA (A kaiming-uniform, B zeros) on all seven
    projections, as PEFT applies it: y = x W^T + scale * (x A^T) B^T."""

    def __init__(self, dims, layers, rank, alpha, device, dtype):
        super().__init__()
        C, F_, H, KV = dims["hidden"], dims["ffn"], dims["heads"], dims["kv_heads"]
        D = C // H
        self.dims, self.D, self.H, self.KV, self.scale = dims, D, H, KV, alpha / rank
        shapes = {"q_proj": (H * D, C), "k_proj": (KV * D, C), "v_proj": (KV * D, C), "o_proj": (C, H * D),
                  "gate_proj": (F_, C), "up_proj": (F_, C), "down_proj": (C, F_)}
        frozen = lambda *s, std: torch.nn.Parameter(torch.randn(*s, device=device, dtype=dtype) * std,
                                                    requires_grad=False)
        self.embed = frozen(dims["vocab"], C, std=1.0)
        self.lm_head = frozen(dims["vocab"], C, std=C ** -0.5)
        self.norm = frozen(C, std=0.0)
        self.norm.data += 1
        self.layers = torch.nn.ModuleList()
        for _ in range(layers):
            layer = torch.nn.Module()
            layer.in_norm = frozen(C, std=0.0)
            layer.post_norm = frozen(C, std=0.0)
            layer.in_norm.data += 1
            layer.post_norm.data += 1
            for name, (o, i) in shapes.items():
                setattr(layer, name, frozen(o, i, std=i ** -0.5))
                a = torch.empty(rank, i, device=device, dtype=dtype)
                torch.nn.init.kaiming_uniform_(a, a=math.sqrt(5))
                setattr(layer, name + "_A", torch.nn.Parameter(a))
                setattr(layer, name + "_B", torch.nn.Parameter(torch.zeros(o, rank, device=device, dtype=dtype)))
            self.layers.append(layer)
        inv_freq = 1.0 / (dims["rope_theta"] ** (torch.arange(0, D, 2, device=device).float() / D))
        self.register_buffer("inv_freq", inv_freq, persistent=False)

    def proj(self, layer, name, x):
        w, a, b = getattr(layer, name), getattr(layer, name + "_A"), getattr(layer, name + "_B")
        return x @ w.t() + ((x @ a.t()) @ b.t()) * self.scale

    def rms(self, x, w):
        xf = x.float()
        return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.dims["eps"])).to(x.dtype) * w

    @staticmethod
    def causal_attention(q, k, v):
        if hasattr(F, "scaled_dot_product_attention"):  # torch >= 2.0: flash / memory-efficient kernels
            return F.scaled_dot_product_attention(q.unsqueeze(0), k.unsqueeze(0), v.unsqueeze(0),
                                                  is_causal=True).squeeze(0)
        T = q.shape[1]
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(q.shape[-1])
        scores = scores.masked_fill(torch.ones(T, T, dtype=torch.bool, device=q.device).triu(1), float("-inf"))
        return scores.softmax(-1) @ v

    def block(self, layer, x, cos, sin):
        T, D = x.shape[0], self.D
        h = self.rms(x, layer.in_norm)
        q = self.proj(layer, "q_proj", h).view(T, self.H, D).transpose(0, 1)
        k = self.proj(layer, "k_proj", h).view(T, self.KV, D).transpose(0, 1)
        v = self.proj(layer, "v_proj", h).view(T, self.KV, D).transpose(0, 1)
        rot = lambda t: torch.cat((-t[..., D // 2:], t[..., :D // 2]), dim=-1)
        q, k = q * cos + rot(q) * sin, k * cos + rot(k) * sin
        k = k.repeat_interleave(self.H // self.KV, dim=0)
        v = v.repeat_interleave(self.H // self.KV, dim=0)
        att = self.causal_attention(q, k, v)
        x = x + self.proj(layer, "o_proj", att.transpose(0, 1).reshape(T, self.H * D))
        h = self.rms(x, layer.post_norm)
        g = F.silu(self.proj(layer, "gate_proj", h)) * self.proj(layer, "up_proj", h)
        return x + self.proj(layer, "down_proj", g)

    def loss(self, ids, checkpointing):
        T = ids.shape[0]
        freqs = torch.outer(torch.arange(T, device=ids.device).float(), self.inv_freq)
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos().to(self.embed.dtype), emb.sin().to(self.embed.dtype)
        x = self.embed[ids]
        for layer in self.layers:
            if checkpointing:
                x = torch.utils.checkpoint.checkpoint(self.block, layer, x, cos, sin, use_reentrant=False)
            else:
                x = self.block(layer, x, cos, sin)
        logits = (self.rms(x, self.norm) @ self.lm_head.t()).float()
        return F.cross_entropy(logits[:-1], ids[1:])


def build_hf(layers, rank, alpha):
    import peft
    import transformers
    from peft import LoraConfig, get_peft_model
    from transformers import MistralConfig, MistralForCausalLM
    cfg = MistralConfig(hidden_size=M7["hidden"], intermediate_size=M7["ffn"], num_hidden_layers=layers,
                        num_attention_heads=M7["heads"], num_key_value_heads=M7["kv_heads"], vocab_size=M7["vocab"],
                        max_position_embeddings=32768, rms_norm_eps=M7["eps"], rope_theta=M7["rope_theta"],
                        sliding_window=None, use_cache=False)
    try:
        cfg._attn_implementation = "sdpa"
    except Exception:  # newer transformers validate or derive it; sdpa is their default anyway
        pass
    model = MistralForCausalLM(cfg)
    lcfg = LoraConfig(r=rank, lora_alpha=alpha, lora_dropout=0.0, target_modules=TARGETS, bias="none",
                      task_type="CAUSAL_LM")
    try:
        model = get_peft_model(model, lcfg, autocast_adapter_dtype=False)  # keep the adapter in bf16
    except TypeError:  # older peft: no such argument, adapters are created in the base dtype
        model = get_peft_model(model, lcfg)
    for n, p in model.named_parameters():
        if "lora_" in n and p.dtype != torch.bfloat16:
            p.data = p.data.to(torch.bfloat16)
    impl = f"transformers {transformers.__version__} + peft {peft.__version__} (sdpa attention)"
    return model, impl


def build_m7(args, dims, layers, rank, alpha, device, dtype, impl_choice):
    """(model, impl, hf): transformers + peft when asked for and importable, else plain torch."""
    why_plain = None
    if impl_choice in ("auto", "hf"):
        try:
            torch.set_default_dtype(dtype)
            with torch.device(device):  # weights made on the GPU, in bf16
                model, impl = build_hf(layers, rank, alpha)
            return model, impl, True
        except Exception as e:  # ImportError, or an API this script does not know
            if impl_choice == "hf":
                raise
            why_plain = f"transformers + peft unusable here: {type(e).__name__}: {e}"
            log(why_plain)
        finally:
            torch.set_default_dtype(torch.float32)
    model = PlainMistral(dims, layers, rank, alpha, device, dtype)
    impl = "plain torch (SDPA attention, LoRA as two matmuls)" + (f"; {why_plain}" if why_plain else "")
    return model, impl, False


def measure_m7(model, hf, ids, steps, device):
    """Median tok/s and peak memory of the train step, with and without gradient checkpointing."""
    T = ids.shape[0]
    trainable = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(trainable, lr=1e-4, weight_decay=0.0)
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)

    def step(checkpointing):
        if hf:
            loss = model(input_ids=ids.unsqueeze(0), labels=ids.unsqueeze(0)).loss
        else:
            loss = model.loss(ids, checkpointing)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss

    runs = []
    for checkpointing in (True, False):
        if hf:
            if checkpointing:
                model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
                model.enable_input_require_grads()
            else:
                model.gradient_checkpointing_disable()
        sync()
        if device == "cuda":
            torch.cuda.reset_peak_memory_stats()
        for _ in range(2):
            step(checkpointing)
        sync()
        times = []
        for _ in range(steps):
            t = time.perf_counter()
            loss = step(checkpointing)
            sync()
            times.append(time.perf_counter() - t)
        s = statistics.median(times)
        peak = torch.cuda.max_memory_allocated() if device == "cuda" else 0
        runs.append({"gradient_checkpointing": checkpointing, "step_s": times, "tok_s": (T - 1) / s,
                     "peak_vram_bytes": peak, "loss": float(loss)})
        log(f"M7 PyTorch ({'with' if checkpointing else 'without'} checkpointing): {(T - 1) / s:.0f} tok/s, "
            f"peak {peak / 2**30:.1f} GiB")
    return runs, sum(p.numel() for p in trainable)


def bench_m7(args):
    smoke = args.smoke
    dims = dict(M7, hidden=64, ffn=128, heads=4, kv_heads=2, vocab=100) if smoke else M7
    device, dtype = ("cpu", torch.float32) if smoke else ("cuda", torch.bfloat16)
    layers = 2 if smoke else args.layers
    out = {"torch": torch.__version__, "smoke": True} if smoke else device_facts()
    T, rank, alpha = (16 if smoke else args.tokens), 16, 32
    torch.manual_seed(0)
    impl_choice = "plain" if smoke else args.impl
    t0 = time.perf_counter()
    model, impl, hf = build_m7(args, dims, layers, rank, alpha, device, dtype, impl_choice)
    log(f"M7 model built in {time.perf_counter() - t0:.1f} s: {impl}")
    ids = torch.randint(0, dims["vocab"], (T,), device=device)
    try:
        runs, trainable = measure_m7(model, hf, ids, args.steps, device)
    except Exception as e:
        if not hf or impl_choice == "hf":
            raise
        why = f"transformers + peft failed in the step: {type(e).__name__}: {e}"
        log(why + "; measuring the plain-torch model instead")
        del model
        if device == "cuda":
            torch.cuda.empty_cache()
        model, impl, hf = build_m7(args, dims, layers, rank, alpha, device, dtype, "plain")
        impl += f"; {why}"
        runs, trainable = measure_m7(model, hf, ids, args.steps, device)
    out.update({"impl": impl, "tokens": T, "trained_tokens_per_step": T - 1, "layers": layers,
                "lora_rank": rank, "lora_trainable_params": trainable, "runs": runs})
    return out


# ---- compare ---------------------------------------------------------------------------------------------

# How often each projection shape occurs in one layer (q and o share a shape, as do k/v and gate/up).
PER_LAYER = {"q_proj/o_proj": 2, "k_proj/v_proj": 2, "gate_proj/up_proj": 2, "down_proj": 1}


def compare(ours_files, torch_files):
    ours = [json.load(open(f)) for f in ours_files]
    theirs = [json.load(open(f)) for f in torch_files]
    key = lambda r: (r["proj"], r["layout"])
    ours_ms, torch_ms = {}, {}
    for o in ours:
        for r in o["gemm"]:
            ours_ms.setdefault(key(r) + (r["variant"],), []).append(r["ms"])
    for t in theirs:
        for r in t["gemm"]:
            torch_ms.setdefault(key(r), []).append(r["ms"])
    shapes = [r for r in ours[0]["gemm"] if r["variant"] == "bf16"]
    variants = list(dict.fromkeys(r["variant"] for r in ours[0]["gemm"]))
    table, lines, weighted = [], [], {}
    lines.append(f"GEMM, M={shapes[0]['M'] if shapes else '?'} tokens, TFLOP/s (torch time / ours):")
    for s in shapes:
        flops = 2.0 * s["M"] * s["N"] * s["K"]
        tms = statistics.median(torch_ms[key(s)]) if key(s) in torch_ms else None
        row = {"proj": s["proj"], "layout": s["layout"], "M": s["M"], "N": s["N"], "K": s["K"]}
        parts = []
        if tms:
            row["torch_tflops"] = flops / (tms * 1e-3) / 1e12
            parts.append(f"torch {row['torch_tflops']:.0f}")
        for v in variants:
            ms = statistics.median(ours_ms[key(s) + (v,)])
            if v == "nf4_dequantize_only":
                row[v + "_ms"] = ms
                parts.append(f"dequantize {ms:.3f} ms")
                continue
            row[v + "_tflops"] = flops / (ms * 1e-3) / 1e12
            parts.append(f"{v} {row[v + '_tflops']:.0f}" + (f" ({tms / ms:.2f})" if tms else ""))
            if tms:
                row[v + "_ratio"] = tms / ms
                w = weighted.setdefault(v, [0.0, 0.0])
                w[0] += PER_LAYER.get(s["proj"], 1) * ms
                w[1] += PER_LAYER.get(s["proj"], 1) * tms
        table.append(row)
        lines.append(f"  {s['proj']:<18} {s['layout']:<8} {s['M']}x{s['N']}x{s['K']}: " + ", ".join(parts))
    ratios = {v: w[1] / w[0] for v, w in weighted.items()}
    if ratios:
        lines.append("time-weighted over one layer (q,k,v,o,gate,up,down; forward + backward), torch time / ours:")
        lines += [f"  {v}: {r:.2f}" for v, r in ratios.items()]
    return {"device": ours[0].get("device"), "torch": theirs[0].get("torch") if theirs else None,
            "gemm": table, "gemmRatios": ratios, "lora": ours[0].get("lora"), "lines": lines}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["matmul", "m7", "compare"])
    ap.add_argument("--ours", nargs="*", default=[])
    ap.add_argument("--torch", nargs="*", default=[])
    ap.add_argument("--tokens", type=int, default=2048)
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--trials", type=int, default=5)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--layers", type=int, default=M7["layers"])
    ap.add_argument("--impl", choices=["auto", "hf", "plain"], default="auto")
    ap.add_argument("--smoke", action="store_true")
    args = ap.parse_args()
    if args.mode == "compare":
        print(json.dumps(compare(args.ours, args.torch)))
        return 0
    if torch is None:
        print(json.dumps({"error": f"PyTorch is not importable: {TORCH_MISSING}"}))
        return 1
    if args.smoke:
        print(json.dumps(bench_m7(args)))
        return 0
    if not torch.cuda.is_available():
        print(json.dumps({"error": "torch.cuda.is_available() is False", "torch": torch.__version__}))
        return 1
    result = bench_matmul(args) if args.mode == "matmul" else bench_m7(args)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
