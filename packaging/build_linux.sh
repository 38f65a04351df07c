#!/usr/bin/env bash
# Build the Linux one-folder bundle build/dist/diffeditor/ from the active Python environment
# (the project installed with `pip install -e .`; the bundle takes whatever torch is installed).
#
#   bash packaging/build_linux.sh          # the folder
#   bash packaging/build_linux.sh --tar    # and build/diffeditor-<version>-linux-x86_64.tar.gz
#
# packaging/build_windows.ps1 is the same, step for step, for Windows.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)

# 1. PyInstaller, pinned: 6.22.3 is the version this bundle was built and tested with.
python -m pip install -q "pyinstaller==6.22.3"
version=$(python -c "import diffeditor_app; print(diffeditor_app.__version__)")

# 2. The bundle (quiet imports while PyInstaller analyses diffusers and transformers).
TRANSFORMERS_VERBOSITY=error DIFFUSERS_VERBOSITY=error HF_HUB_DISABLE_PROGRESS_BARS=1 \
  python -m PyInstaller packaging/diffeditor.spec --noconfirm --log-level WARN \
  --distpath build/dist --workpath build/pyi
bundle=build/dist/diffeditor

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
if [ "${1:-}" = "--tar" ]; then
  tarball="build/diffeditor-$version-linux-$(uname -m).tar.gz"
  tar -C build/dist -czf "$tarball" diffeditor
  echo "tarball: $tarball ($(du -sh "$tarball" | cut -f1))"
fi
echo "bundle: $bundle ($(du -sh "$bundle" | cut -f1)), version $version, built in $(( $(date +%s) - start )) s"
