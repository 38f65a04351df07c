#!/usr/bin/env bash
# Prepare the GPU run on a connected machine: download the wheels the GPU machine lacks
# (it has Python 3.12 and its own CUDA torch, but no diffusers; CLARIFICATIONS 23) into
# bench/wheels/ (git-ignored). About 58 MB: small enough to travel with the working tree.
# torch is not among them: every package below runs on the GPU machine's own torch.
#
#     bash bench/gpu_wheels.sh          # then carry bench/wheels to the GPU machine
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf bench/wheels
python -m pip download --quiet --dest bench/wheels --only-binary=:all: \
    --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 \
    diffusers==0.42.1 transformers==5.24.0 safetensors==0.8.0 tokenizers==0.23.3 \
    huggingface_hub==2.4.0 numpy==2.4.6 pillow==13.0.0
if ls bench/wheels | grep -q '^torch-'; then
    echo "a torch wheel was pulled in; the GPU machine must keep its own" >&2
    exit 1
fi
echo "bench/wheels: $(ls bench/wheels | wc -l) wheels, $(du -sh bench/wheels | cut -f1)"
