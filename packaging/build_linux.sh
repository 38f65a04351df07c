#!/usr/bin/env bash
# Build the Linux one-folder bundle build/dist/diffeditor/ in the active Python environment,
# after installing the locked versions into it (requirements/linux-dev.txt: the CPU torch).
#
#   bash packaging/build_linux.sh             # the folder
#   bash packaging/build_linux.sh --tar       # and build/diffeditor-<version>-linux-x86_64.tar.gz
#   bash packaging/build_linux.sh --unlocked  # with whatever is installed (.ci/drift's build)
#
# BUILD_DIR (default build) is where the bundle and PyInstaller's work files go.
#
# The last step proves the bundle (packaging/smoke.sh); packaging/build_windows.ps1 is the
# same, step for step, for Windows.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
tar=false locked=true
for option in "$@"; do
  case $option in
    --tar) tar=true ;;
    --unlocked) locked=false ;;
    *) echo "build_linux.sh: unknown option '$option'" >&2; exit 2 ;;
  esac
done
out=${BUILD_DIR:-build}

# 1. The locked versions the suite ran on, PyInstaller among them (a no-op where the README's
#    test command installed them already), and
#    torch's CPU build unless a torch (a CUDA build, say) is installed already.
if $locked; then
  torch_lock=()
  python -c "import torch" 2> /dev/null || torch_lock=(-r requirements/linux-torch-cpu.txt)
  python -m pip install -q --require-hashes "${torch_lock[@]}" -r requirements/linux-dev.txt
  python -m pip install -q --no-deps -e .
fi
version=$(python -c "import diffeditor_app; print(diffeditor_app.__version__)")

# 2. The bundle (quiet imports while PyInstaller analyses diffusers and transformers).
TRANSFORMERS_VERBOSITY=error DIFFUSERS_VERBOSITY=error HF_HUB_DISABLE_PROGRESS_BARS=1 \
  python -m PyInstaller packaging/diffeditor.spec --noconfirm --log-level WARN \
  --distpath "$out/dist" --workpath "$out/pyi"
bundle=$out/dist/diffeditor

# 3. Desktop integration next to the executable: the .desktop file, the icon and an installer
#    that points the menu entry at this folder (wherever it was unpacked).
cp packaging/diffeditor.desktop resources/icons/diffeditor.png "$bundle/"
cat > "$bundle/install-desktop-entry.sh" <<'SH'
#!/usr/bin/env sh
# Add DiffEditor to the desktop menu of the current user, running it from this folder.
here=$(cd "$(dirname "$0")" && pwd)
apps="${XDG_DATA_HOME:-$HOME/.local/share}/applications"
mkdir -p "$apps"
sed -e "s|^Exec=.*|Exec=\"$here/diffeditor\" %f|" -e "s|^Icon=.*|Icon=$here/diffeditor.png|" \
  "$here/diffeditor.desktop" > "$apps/diffeditor.desktop"
echo "Installed $apps/diffeditor.desktop"
SH
chmod +x "$bundle/install-desktop-entry.sh" "$bundle/diffeditor"

# 4. Optional tarball.
if $tar; then
  tarball="$out/diffeditor-$version-linux-$(uname -m).tar.gz"
  tar -C "$out/dist" -czf "$tarball" diffeditor
  echo "tarball: $tarball ($(du -sh "$tarball" | cut -f1))"
fi
# 5. The smoke: self-test, an offscreen window and the demo's edit of every task.
SMOKE_SHOTS="$out/smoke" bash packaging/smoke.sh "$bundle"

echo "bundle: $bundle ($(du -sh "$bundle" | cut -f1)), version $version, built in $(( $(date +%s) - start )) s"
