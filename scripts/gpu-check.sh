#!/usr/bin/env bash
# The GPU check, for the day a GPU machine is lent (docs/gpu-check.md). Two halves:
#   bash scripts/gpu-check.sh --prepare   # here: packs what the GPU machine needs into .gpu-check/
#   bash scripts/gpu-check.sh             # there: runs with only what .gpu-check/ carries in
# The GPU machine has no registry and perhaps no Node, so --prepare carries: the agent's nvidia-smi
# parser bundled into one .mjs, this machine's Node binary (xz), and llama.cpp's sources (the pinned
# llama-cpp-python sdist, without models/docs/tests). A model is carried only when MODEL names one
# (the demo model is 93 MB, more than the device tool's 64 MiB carry limit).
# Output (into $OUT, else ./gpu-check-out): nvidia-smi.txt, nvidia-smi-q.xml, query.csv,
# agent-parse.json, cuda-build.log, batched-bench.txt, summary.txt.
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
pack="$root/.gpu-check"

if [ "${1:-}" = "--prepare" ]; then
  set -e
  mkdir -p "$pack"
  "$root/node_modules/.bin/esbuild" "$root/scripts/gpu-parse.ts" --bundle --platform=node \
    --format=esm --outfile="$pack/gpu-parse.mjs" --log-level=warning \
    --banner:js="import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);"
  xz -T2 -6 -c "$(command -v node)" > "$pack/node.xz"
  src="$(LLAMA_BACKEND=cpu bash "$root/scripts/build-llama-cpp.sh" --print-bin x)"
  src="${src%/build/bin/x}"
  ver="$(basename "$src")"
  src="$src/llama_cpp_python-$ver/vendor/llama.cpp"
  [ -f "$src/CMakeLists.txt" ] || { echo "no llama.cpp sources at $src: run scripts/build-llama-cpp.sh first" >&2; exit 1; }
  tar -C "$src" --exclude=./models --exclude=./docs --exclude=./tests --exclude=./media -cJf "$pack/llama.cpp.tar.xz" .
  if [ -n "${MODEL:-}" ]; then cp "$MODEL" "$pack/model.gguf"; fi
  du -sh "$pack"/*
  echo "ready: carry .gpu-check with the device tool, e.g. run(command='bash scripts/gpu-check.sh', carry=['.gpu-check'])"
  exit 0
fi

out="${OUT:-$root/gpu-check-out}"
mkdir -p "$out"
summary="$out/summary.txt"
say() { echo "$*" | tee -a "$summary"; }
: > "$summary"
say "gpu-check $(date -u +%FT%TZ) on $(hostname); commit $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"

# 1. nvidia-smi's own view.
if ! command -v nvidia-smi >/dev/null; then
  say "FAILED: nvidia-smi not found: this is no GPU machine"
  exit 1
fi
nvidia-smi > "$out/nvidia-smi.txt" 2>&1
nvidia-smi -q -x > "$out/nvidia-smi-q.xml" 2>&1
fields="index,name,uuid,memory.total,memory.used,memory.free,utilization.gpu,temperature.gpu,power.draw,driver_version"
nvidia-smi --query-gpu="$fields" --format=csv,noheader,nounits > "$out/query.csv"
say "nvidia-smi: $(wc -l < "$out/query.csv") GPU(s): $(cut -d, -f2 "$out/query.csv" | paste -sd';')"

# 2. The agent's parser on the live output (the same code the agent heartbeats with).
node_bin="$(command -v node || true)"
if [ -z "$node_bin" ] && [ -f "$pack/node.xz" ]; then
  node_bin="/tmp/gpu-check-node"
  xz -dc "$pack/node.xz" > "$node_bin" && chmod +x "$node_bin"
fi
if [ -n "$node_bin" ] && [ -f "$pack/gpu-parse.mjs" ]; then
  if "$node_bin" "$pack/gpu-parse.mjs" < "$out/query.csv" > "$out/agent-parse.json" 2>&1; then
    say "agent parser: $(grep -c '"index"' "$out/agent-parse.json") GPU(s) parsed ($out/agent-parse.json)"
  else
    say "FAILED: agent parser: $(tail -3 "$out/agent-parse.json")"
  fi
else
  say "NOT RUN: agent parser (no Node here and none carried; run --prepare first)"
fi

# 3. llama.cpp built for CUDA here, tokens/s at 1/4/8 parallel sequences (llama-batched-bench).
if [ ! -f "$pack/llama.cpp.tar.xz" ]; then
  say "NOT RUN: CUDA build (no llama.cpp sources carried; run --prepare first)"; exit 0
fi
if ! command -v nvcc >/dev/null || ! command -v cmake >/dev/null; then
  say "NOT RUN: CUDA build (nvcc or cmake missing)"; exit 0
fi
build=/tmp/gpu-check-llama
mkdir -p "$build/src"
tar -C "$build/src" -xJf "$pack/llama.cpp.tar.xz"
if cmake -S "$build/src" -B "$build/b" -DCMAKE_BUILD_TYPE=Release -DGGML_CUDA=ON -DLLAMA_CURL=OFF \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=ON -DLLAMA_USE_PREBUILT_UI=OFF -DBUILD_SHARED_LIBS=OFF \
    -DCMAKE_CUDA_ARCHITECTURES=native > "$out/cuda-build.log" 2>&1 &&
  cmake --build "$build/b" -j"$(nproc)" --target llama-batched-bench llama-server >> "$out/cuda-build.log" 2>&1; then
  say "CUDA build: ok ($(nvcc --version | tail -1))"
else
  say "FAILED: CUDA build (last lines of $out/cuda-build.log):"; tail -20 "$out/cuda-build.log" | tee -a "$summary"
  exit 1
fi
model="${MODEL:-$pack/model.gguf}"
if [ ! -f "$model" ]; then
  say "NOT MEASURED: tokens/s (no model: set MODEL or carry one with MODEL=... --prepare)"; exit 0
fi
"$build/b/bin/llama-batched-bench" -m "$model" -ngl 99 -c 8192 -b 2048 -ub 512 -npp 128 -ntg 128 \
  -npl 1,4,8 > "$out/batched-bench.txt" 2>&1 || { say "FAILED: llama-batched-bench"; tail -20 "$out/batched-bench.txt"; exit 1; }
say "tokens/s (llama-batched-bench, 128 prompt + 128 generated per sequence; S_TG = generation t/s):"
grep -E '^\|' "$out/batched-bench.txt" | tee -a "$summary"
# 4. The CUDA llama-server that ENGINE=llama-server would run (scripts/build-llama-cpp.sh builds the
# same with -DGGML_CUDA=ON when nvcc is found): does it load the model on the GPU and answer?
"$build/b/bin/llama-server" -m "$model" -ngl 99 --host 127.0.0.1 --port 18090 -np 4 -c 8192 \
  --metrics --no-webui > "$out/llama-server.log" 2>&1 &
ls_pid=$!
for _ in $(seq 1 120); do curl -sf http://127.0.0.1:18090/health >/dev/null 2>&1 && break; sleep 0.5; done
if curl -sf http://127.0.0.1:18090/v1/chat/completions -H 'content-type: application/json' \
    -d '{"messages":[{"role":"user","content":"Hello"}],"max_tokens":64,"temperature":0}' > "$out/llama-server-answer.json"; then
  say "CUDA llama-server: answered ($(grep -o '"predicted_per_second":[0-9.]*' "$out/llama-server-answer.json" | head -1))"
else
  say "FAILED: CUDA llama-server did not answer (see $out/llama-server.log)"
fi
kill "$ls_pid" 2>/dev/null; wait "$ls_pid" 2>/dev/null
say "NOT RUN here: npm run bench -- engines-vs-server (needs the agent, the control plane and node_modules, over the 64 MiB carry limit)"
