#!/usr/bin/env bash
# Makes quantized variants of the bundled SmolLM2-135M-Instruct (Q4_1) with llama-quantize
# (scripts/build-llama-cpp.sh). Requantizing needs --allow-requantize: every variant's quality is
# bounded by the Q4_1 source (a Q8_0 made from Q4_1 is not better than Q4_1; its memory is real).
#   scripts/make-quant-variants.sh [QUANT ...]   (default: Q8_0 Q6_K Q5_K_M Q4_K_M Q4_0 IQ4_XS Q3_K_M Q2_K)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
quantize="$("$root/scripts/build-llama-cpp.sh" --print-bin llama-quantize)"
src="$root/.cache/models/SmolLM2-135M-Instruct.Q4_1.gguf"
[ -x "$quantize" ] || "$root/scripts/build-llama-cpp.sh" llama-quantize
[ -f "$src" ] || node "$root/scripts/fetch-model.mjs"
quants=("$@")
[ ${#quants[@]} -eq 0 ] && quants=(Q8_0 Q6_K Q5_K_M Q4_K_M Q4_0 IQ4_XS Q3_K_M Q2_K)
for q in "${quants[@]}"; do
  out="$root/.cache/models/SmolLM2-135M-Instruct-$q.gguf"
  if [ -f "$out" ]; then echo "[quant] $out exists"; continue; fi
  "$quantize" --allow-requantize "$src" "$out.tmp" "$q" "${THREADS:-2}" >"$out.log" 2>&1 || { tail -5 "$out.log"; exit 1; }
  mv "$out.tmp" "$out" && rm -f "$out.log"
  echo "[quant] $q $(stat -c %s "$out") bytes $(sha256sum "$out" | cut -d' ' -f1)"
done
