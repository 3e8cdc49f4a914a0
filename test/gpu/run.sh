#!/usr/bin/env bash
# test/gpu/run.sh — the one device script for a session lent a GPU (shared/specs/performance.md, issue 5):
# builds the CUDA backend on the device for sm_90, runs the GPU parity harness (tunesmith_gpu_tests: every
# CUDA op against its CPU twin, the GEMM family included), then the benchmark (our GEMM vs torch.matmul
# on M7's projection shapes, M7 in PyTorch + PEFT, M7 on our engine when it can), then, if time is left,
# the GEMM tile variants (native/dev/cuda/gemm_variants.cu), the Hopper wgmma experiment (gemm_wgmma.cu)
# and a memcheck pass over the GEMM cases.
# Writes $OUT/result.json (parity counts and failures, GEMM ratios, M7 tok/s, MFU, VRAM, versions, each
# stage's status and seconds) even when a stage fails, with log.txt (everything printed), parity.txt,
# bench.json, variants.txt, wgmma.txt and sanitizer.txt. Ends by ~7 minutes.
#
# How a session calls it (the `run` tool). Nothing needs carrying — it builds from the working tree, with
# the device's own nvcc, CMake, ninja and python3 (PyTorch, transformers, peft), and needs no Node:
#   run(command: "bash test/gpu/run.sh", timeout_s: 480)
# then read files_at/result.json (the figure is its "summary"; the log's last line says the same).
# One call costs its run (~4-7 min) plus the machine's start (1-2 min): of a 15-minute lease, that
# leaves one rerun. With node and node_modules present (a developer's GPU machine) it runs
# `npm run bench:gpu` instead of the Python path, and the M7 step on our engine too.
# Env: RUN_DEADLINE_S (default 420: stages are cut to end by then), BUILD_DIR (default /tmp/tunesmith-gpu-build),
# OUT (set by the run tool; default /tmp/tunesmith-gpu-out), RUN_NO_NODE=1 (take the device's path anyway).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
OUT="${OUT:-/tmp/tunesmith-gpu-out}"
mkdir -p "$OUT"
WORK="$(mktemp -d /tmp/tunesmith-gpu-run.XXXXXX)"
BUILD="${BUILD_DIR:-/tmp/tunesmith-gpu-build}"
START=$(date +%s)
DEADLINE=$((START + ${RUN_DEADLINE_S:-420}))
exec > >(tee -a "$OUT/log.txt") 2>&1
cd "$ROOT"
export PYTHONUNBUFFERED=1
STAGES="$WORK/stages.tsv"
: >"$STAGES"

say() { echo "[run.sh $(($(date +%s) - START))s] $*"; }
remaining() { echo $((DEADLINE - $(date +%s))); }

# stage NAME MAX_SECONDS COMMAND...: runs COMMAND under a timeout (MAX_SECONDS or what is left before the
# deadline), records ok | failed (exit N) | timeout | skipped and the seconds, never stops the script.
stage() {
  local name=$1 max=$2
  shift 2
  local left
  left=$(remaining)
  if ((left < 15)); then
    printf '%s\tskipped\t0\tno time left before the deadline\n' "$name" >>"$STAGES"
    say "$name: skipped (no time left)"
    return 0
  fi
  local limit=$((max < left ? max : left))
  say "$name: start (limit ${limit}s)"
  local t0 status rc
  t0=$(date +%s)
  set +e
  timeout --kill-after=10 "$limit" "$@"
  rc=$?
  set -e
  if ((rc == 0)); then status=ok; elif ((rc == 124 || rc == 137)); then status=timeout; else status="failed (exit $rc)"; fi
  printf '%s\t%s\t%s\t\n' "$name" "$status" "$(($(date +%s) - t0))" >>"$STAGES"
  say "$name: $status in $(($(date +%s) - t0))s"
  return 0
}
stage_ok() { grep -q "^$1	ok	" "$STAGES"; }

write_result() {
  python3 - "$WORK" "$OUT" "$STAGES" <<'PY' || echo "[run.sh] could not write result.json"
import json, os, re, sys
work, out, stages_file = sys.argv[1:4]
def read(path):
    try:
        return open(path).read()
    except OSError:
        return None
def read_json(path):
    try:
        return json.load(open(path))
    except (OSError, ValueError):
        return None
stages = {}
for line in open(stages_file):
    name, status, secs, note = (line.rstrip("\n").split("\t") + ["", "", "", ""])[:4]
    stages[name] = {"status": status, "seconds": int(secs or 0), **({"note": note} if note else {})}
env = read_json(os.path.join(work, "env.json")) or {}
parity = {"ran": False}
text = read(os.path.join(out, "parity.txt"))
if text is not None:
    m = re.search(r"^(\d+) passed, (\d+) failed$", text, re.M)
    sk = re.search(r"^(\d+) skipped$", text, re.M)
    parity = {"ran": True, "passed": int(m.group(1)) if m else None, "failed": int(m.group(2)) if m else None,
              "skipped": int(sk.group(1)) if sk else 0, "complete": bool(m),
              "failures": [l for l in text.splitlines() if l.startswith("FAIL") or l.startswith("  ")][:60],
              "no_device": next((l for l in text.splitlines() if l.startswith("skipped: no CUDA device")), None)}
bench = read_json(os.path.join(out, "bench.json")) or {}
m7t = bench.get("pytorchM7") or {}
runs = {("with_checkpointing" if r.get("gradient_checkpointing") else "without_checkpointing"): r
        for r in m7t.get("runs", [])}
sanitizer = read(os.path.join(out, "sanitizer.txt"))
variants = read(os.path.join(out, "variants.txt"))
wgmma = read(os.path.join(out, "wgmma.txt"))
result = {
    "env": env,
    "stages": stages,
    "parity": parity,
    "gemm_ratios": bench.get("gemmRatios"),
    "gemm": bench.get("gemm"),
    "lora_gemms": bench.get("lora"),
    "m7_pytorch": {"impl": m7t.get("impl"), **{k: {"tok_s": v.get("tok_s"), "peak_vram_bytes": v.get("peak_vram_bytes")}
                                               for k, v in runs.items()}} if m7t else None,
    "m7_ours": bench.get("oursM7") or (bench.get("skipped") or {}).get("oursM7"),
    "torch": bench.get("torch") or env.get("torch"),
    "sanitizer": None if sanitizer is None else {
        "errors": len(re.findall(r"^========= (Invalid|Program hit|Barrier|Race)", sanitizer, re.M)),
        "summary": [l for l in sanitizer.splitlines() if "ERROR SUMMARY" in l]},
    "variants": None if variants is None else [l for l in variants.splitlines() if "best:" in l or "wrong" in l
                                                or "WRONG" in l or "failed" in l],
    "wgmma": None if wgmma is None else wgmma.splitlines()[-20:],
    "bench_errors": bench.get("errors"),
}
r = result["gemm_ratios"] or {}
fmt = lambda v: "-" if v is None else f"{v:.2f}"
ours = bench.get("oursM7")
pt = (runs.get("with_checkpointing") or {}).get("tok_s")
result["summary"] = (
    f"parity {parity.get('passed')} passed, {parity.get('failed')} failed; "
    f"GEMM / torch.matmul (time-weighted, M7 layer): bf16 {fmt(r.get('bf16'))}, nf4 fused {fmt(r.get('nf4_fused'))}, "
    f"nf4 scratch {fmt(r.get('nf4_scratch'))}; M7 pytorch+peft {fmt(pt) if pt is None else f'{pt:.0f}'} tok/s; "
    + (f"ours {ours['tok_s']:.0f} tok/s" if ours else "ours skipped"))
json.dump(result, open(os.path.join(out, "result.json"), "w"), indent=2)
print(result["summary"])
PY
}
trap 'write_result; rm -rf "$WORK"' EXIT

# ---- the machine ------------------------------------------------------------------------------------------
command -v nvcc >/dev/null || export PATH="/usr/local/cuda/bin:$PATH"
say "repository $ROOT, output $OUT, build $BUILD"
nvidia-smi || say "nvidia-smi failed"
nvcc --version | tail -2 || say "nvcc not found"
cmake --version | head -1 || say "cmake not found"
python3 - "$WORK/env.json" <<'PY' || true
import json, shutil, subprocess, sys
env = {}
def run(*cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout.strip()
    except Exception as e:
        return f"unavailable ({e})"
env["gpu"] = run("nvidia-smi", "--query-gpu=name,driver_version,memory.total,clocks.max.sm", "--format=csv,noheader")
env["nvcc"] = run("nvcc", "--version").splitlines()[-1:] if shutil.which("nvcc") else "not found"
env["node"] = run("node", "--version") if shutil.which("node") else None
try:
    import torch
    env["torch"] = torch.__version__
    env["torch_cuda"] = torch.version.cuda
    import transformers, peft
    env["transformers"], env["peft"] = transformers.__version__, peft.__version__
except Exception as e:
    env.setdefault("torch", None)
    env["python_note"] = str(e)
json.dump(env, open(sys.argv[1], "w"))
print(json.dumps(env))
PY
HAVE_NODE=0
if [ -z "${RUN_NO_NODE:-}" ] && command -v node >/dev/null && [ -d node_modules/cmake-js ] && [ -d node_modules/tsx ]; then
  HAVE_NODE=1
fi

# ---- build (sm_90 only: SASS for Hopper, PTX for newer) --------------------------------------------------
build() {
  export TUNESMITH_CUDA=ON TUNESMITH_CUDA_ARCHS=90
  if ((HAVE_NODE)); then
    node scripts/build-native.mjs --out "$BUILD" && cmake --build "$BUILD" --target tunesmith_gemm_bench
  else
    # No Node: plain CMake for the two executables (the addon needs Node's headers; these do not).
    cmake -S native -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DTUNESMITH_CUDA=ON -DTUNESMITH_CUDA_ARCHS=90 &&
      cmake --build "$BUILD" --parallel "$(nproc)" --target tunesmith_gpu_tests tunesmith_gemm_bench
  fi
}
stage build 300 bash -c "$(declare -f build); HAVE_NODE=$HAVE_NODE BUILD='$BUILD' build"

# The GEMM tile variants (native/dev/cuda/gemm_variants.cu) compile in the background meanwhile, linked
# against the build's own GEMM objects.
VARIANTS_PID=""
if stage_ok build; then
  objs="$BUILD/CMakeFiles/tunesmith_cuda.dir/src/cuda"
  (nvcc -std=c++17 -O3 -arch=sm_90 --expt-relaxed-constexpr -Inative/include -Inative/src -Inative/src/cuda \
    native/dev/cuda/gemm_variants.cu "$objs/gemm.cu.o" "$objs/gemm_mma_bf16.cu.o" "$objs/gemm_mma_nf4.cu.o" \
    "$objs/gemm_mma_lora.cu.o" -o "$WORK/gemm_variants" >"$WORK/variants_build.log" 2>&1
  nvcc -std=c++17 -O3 -gencode=arch=compute_90a,code=sm_90a native/dev/cuda/gemm_wgmma.cu -o "$WORK/gemm_wgmma" \
    >>"$WORK/variants_build.log" 2>&1) &
  VARIANTS_PID=$!
fi

# ---- parity -----------------------------------------------------------------------------------------------
if stage_ok build; then
  # Same as `npm run test:gpu -- --build-dir $BUILD --no-build`.
  stage parity 180 bash -c "set -o pipefail; '$BUILD/Release/tunesmith_gpu_tests' 2>&1 | tee '$OUT/parity.txt'"
fi

# ---- benchmark --------------------------------------------------------------------------------------------
bench_python() {
  local ours=() theirs=()
  for round in 1 2; do
    timeout 120 "$BUILD/Release/tunesmith_gemm_bench" >"$WORK/ours$round.json" && ours+=("$WORK/ours$round.json")
    timeout 120 python3 test/gpu/torch_reference.py matmul >"$WORK/torch$round.json" && theirs+=("$WORK/torch$round.json")
  done
  ((${#ours[@]} > 0)) || return 1
  python3 test/gpu/torch_reference.py compare --ours "${ours[@]}" --torch "${theirs[@]}" >"$WORK/gemm.json"
  python3 -c 'import json,sys; print("\n".join(json.load(open(sys.argv[1]))["lines"]))' "$WORK/gemm.json"
  timeout 240 python3 test/gpu/torch_reference.py m7 >"$WORK/m7.json" || echo "M7 PyTorch failed (see above)"
  python3 - "$WORK/gemm.json" "$WORK/m7.json" "$OUT/bench.json" <<'PY'
import json, sys
gemm = json.load(open(sys.argv[1]))
try:
    m7 = json.load(open(sys.argv[2]))
except (OSError, ValueError):
    m7 = None
bench = {k: gemm.get(k) for k in ("device", "torch", "gemm", "gemmRatios", "lora")}
bench["pytorchM7"] = m7
bench["skipped"] = {"oursM7": "no Node.js on this machine: the engine's session (N-API addon) cannot load"}
json.dump(bench, open(sys.argv[3], "w"), indent=2)
PY
}
if stage_ok build; then
  if ((HAVE_NODE)); then
    stage bench 330 npm run bench:gpu -- --build-dir "$BUILD" --out "$OUT/bench.json"
  else
    stage bench 330 bash -c "$(declare -f bench_python); BUILD='$BUILD' WORK='$WORK' OUT='$OUT' bench_python"
  fi
fi

# ---- GEMM tile variants: correctness against the simple kernel, then TFLOP/s per M7 shape ------------------
if [ -n "$VARIANTS_PID" ]; then
  wait "$VARIANTS_PID" || true
  if [ -x "$WORK/gemm_variants" ]; then
    stage variants 120 bash -c "'$WORK/gemm_variants' >'$OUT/variants.txt' 2>&1; rc=\$?; cat '$OUT/variants.txt'; exit \$rc"
  else
    printf 'variants\tfailed (build)\t0\tsee log\n' >>"$STAGES"
    cat "$WORK/variants_build.log"
  fi
  # The Hopper wgmma experiment (native/dev/cuda/gemm_wgmma.cu): is it right, and how fast?
  if [ -x "$WORK/gemm_wgmma" ]; then
    stage wgmma 60 bash -c "'$WORK/gemm_wgmma' >'$OUT/wgmma.txt' 2>&1; rc=\$?; cat '$OUT/wgmma.txt'; exit \$rc"
  else
    printf 'wgmma\tfailed (build)\t0\tsee log\n' >>"$STAGES"
  fi
fi

# ---- memcheck over the GEMM cases (out-of-bounds and misaligned accesses), if time is left -------------
if stage_ok build && command -v compute-sanitizer >/dev/null && (($(remaining) > 60)); then
  stage sanitizer 90 bash -c "compute-sanitizer --tool memcheck --print-limit 20 '$BUILD/Release/tunesmith_gpu_tests' \
    gpu_gemm_odd_shapes_match_cpu gpu_gemm_lora_shapes_match_cpu gpu_gemm_fused_nf4_equals_dequantize_then_bf16_gemm \
    gpu_lora_matmul_handles_in_features_not_a_multiple_of_64 >'$OUT/sanitizer.txt' 2>&1"
fi

say "done in $(($(date +%s) - START))s"
stage_ok build && stage_ok parity
