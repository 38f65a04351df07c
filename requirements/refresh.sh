#!/usr/bin/env bash
# Refresh the lock files from pyproject.toml: the newest versions its ranges allow today, every
# file's hashes, for Linux and Windows x86-64 on Python 3.11 with the CPU build of torch.
#
#     bash requirements/refresh.sh
#
# A refresh is its own commit, made after the suite and the bundle smoke passed on it
# (`bash .ci/run` installs from these files). requirements/README.md says what each file is for.
set -euo pipefail
cd "$(dirname "$0")/.."

UV_VERSION=0.13.10        # the locker, pinned like everything else
PYTHON_VERSION=3.11       # what CI and the bundles run on
TORCH_VERSION=2.13.0      # the CPU build: +cpu on Linux (PyTorch's CPU index), plain on Windows
LINUX=x86_64-manylinux_2_34  # glibc 2.34 or newer (PySide6 6.12's wheels need it)
WINDOWS=x86_64-pc-windows-msvc
# Where the Linux CPU wheel of torch comes from: a folder of wheels, or PyTorch's CPU index.
TORCH_CPU_WHEELS=${TORCH_CPU_WHEELS:-$([ -d /opt/wheels ] && echo /opt/wheels || echo https://download.pytorch.org/whl/cpu)}

tools=build/lock-tools
[ -x "$tools/bin/uv" ] && [ "$("$tools/bin/uv" --version | cut -d' ' -f2)" = "$UV_VERSION" ] || {
  python3 -m venv "$tools" && "$tools/bin/python" -m pip install -q "uv==$UV_VERSION"
}
if [ -d "$TORCH_CPU_WHEELS" ]; then torch_source=(--find-links "$TORCH_CPU_WHEELS")
else torch_source=(--extra-index-url "$TORCH_CPU_WHEELS" --index-strategy unsafe-best-match); fi

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
compile() {  # compile PLATFORM OUT [uv options...]: one lock file
  local platform=$1 out=$2
  shift 2
  "$tools/bin/uv" pip compile --quiet --generate-hashes --python-version "$PYTHON_VERSION" \
    --python-platform "$platform" --custom-compile-command "bash requirements/refresh.sh" \
    -o "$out" "$@"
}
# The developer set (app, tests, server, bundle) first, with torch moved to a file of its own
# so that a CUDA build can take its place (README); the app's set is then held to the same
# versions, so that what the tests ran is what the app installs.
for os in linux windows; do
  if [ $os = linux ]; then platform=$LINUX torch="$TORCH_VERSION+cpu" source=("${torch_source[@]}")
  else platform=$WINDOWS torch=$TORCH_VERSION source=(); fi
  echo "torch==$torch" > "$scratch/torch.in"
  compile "$platform" "requirements/$os-dev.txt" "${source[@]}" \
    -c "$scratch/torch.in" pyproject.toml --extra dev --extra serve --extra bundle --extra face
  python3 requirements/split_torch.py "requirements/$os-dev.txt" "requirements/$os-torch-cpu.txt"
  compile "$platform" "requirements/$os-app.txt" "${source[@]}" --no-emit-package torch \
    -c "$scratch/torch.in" -c "requirements/$os-dev.txt" pyproject.toml
done
for file in requirements/*-*.txt; do echo "$file: $(grep -c '^[a-z0-9]' "$file") packages"; done
