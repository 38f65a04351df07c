#!/usr/bin/env bash
# The whole GPU benchmark as one command on the GPU machine (docs/ENGINE-NOTES.md, The GPU
# benchmark): install the wheels carried in bench/wheels/ (made by bench/gpu_wheels.sh)
# beside the machine's own torch, then run bench/engine_gpu.py. Results go to $OUT when it
# is set (the device runner's folder that comes back), else to bench/results/. Extra
# arguments go to the benchmark. Install plus run fit about 8 minutes on one H100: the
# benchmark skips cases that would pass its --budget-s (400 s), and a hard stop at LIMIT_S
# (470 s) after the start ends even a compile that runs long; the results of every finished
# case are on disk by then. The plan includes the fast quality on every task at 512 px right
# after the full-quality cases, so one call gives the fast/full time ratio at SD1.5 size.
#
#     bash bench/gpu_run.sh
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
[ -d bench/wheels ] || { echo "bench/wheels is missing: run bench/gpu_wheels.sh first" >&2; exit 2; }
venv="${TMPDIR:-/tmp}/diffeditor-bench-venv"
# A venv that sees the machine's torch; the machine's own pip installs into it (no ensurepip).
python3 -m venv --system-site-packages --without-pip "$venv"
"$venv/bin/python" -m pip install --quiet --no-index --find-links bench/wheels \
    diffusers transformers safetensors tokenizers huggingface_hub
echo "== wheels installed in $(( $(date +%s) - start )) s"
"$venv/bin/python" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name(0))"
export HF_HUB_OFFLINE=1 HF_HUB_DISABLE_PROGRESS_BARS=1
export TRANSFORMERS_VERBOSITY=error DIFFUSERS_VERBOSITY=error
results="${OUT:-bench/results}"
left=$(( ${LIMIT_S:-470} - ( $(date +%s) - start ) ))
PYTHONPATH="$PWD" timeout --signal=INT "$left" "$venv/bin/python" bench/engine_gpu.py \
    --device cuda --out "$results/engine_gpu.json" "$@" || echo "== stopped: exit code $?"
echo "== gpu_run finished in $(( $(date +%s) - start )) s"
