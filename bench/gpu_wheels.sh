#!/usr/bin/env bash
# Prepare the GPU run on a connected machine: download the wheels the GPU machine lacks
# (it has Python 3.12 and its own CUDA torch, but no diffusers; docs/ENGINE-NOTES.md) into
# bench/wheels/ (git-ignored), at the versions of requirements/linux-app.txt. About 39 MB:
# small enough to travel with the working tree.
# torch is not among them: every package below runs on the GPU machine's own torch.
#
#     bash bench/gpu_wheels.sh          # then carry bench/wheels to the GPU machine
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf bench/wheels
# The versions the suite ran on: the app's lock as constraints (pip takes no hashes there, and
# only the few packages below and what they need travel, not the whole app).
constraints=$(mktemp)
trap 'rm -f "$constraints"' EXIT
grep -o '^[a-z0-9_.-]*==[^ ]*' requirements/linux-app.txt > "$constraints"
python -m pip download --quiet --dest bench/wheels --only-binary=:all: \
    --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 -c "$constraints" \
    diffusers transformers safetensors tokenizers huggingface_hub
# numpy and pillow stay the GPU machine's own (its image has both, and torch was built against
# its numpy): 28 MB less to carry, under the device's 64 MiB with the working tree.
rm -f bench/wheels/numpy-* bench/wheels/pillow-*
if ls bench/wheels | grep -q '^torch-'; then
    echo "a torch wheel was pulled in; the GPU machine must keep its own" >&2
    exit 1
fi
echo "bench/wheels: $(ls bench/wheels | wc -l) wheels, $(du -sh bench/wheels | cut -f1)"
