#!/usr/bin/env bash
# Prove a built bundle works as a user meets it: its self-test, an offscreen window, and the
# demo's edit run through the window's own path for every task. Any failure ends the script
# non-zero; an edit that fails exits 2 with the sentence the window would have shown. The
# bundle leaves out the optional face extra (its landmark model forbids commercial use): the
# face task shows its panel, and its edit must refuse with the sentence that says so.
#
#     bash packaging/smoke.sh [BUNDLE_DIR]      # default build/dist/diffeditor
#
# packaging/smoke.ps1 is the same for Windows.
set -euo pipefail
cd "$(dirname "$0")/.."
bundle=${1:-build/dist/diffeditor}
exe="$bundle/diffeditor"
shots=${SMOKE_SHOTS:-build/smoke}
TASKS=(move drag appearance paste)  # the --task choices the demo edits (face: see the top)
FACE_REFUSAL="optional face extra"  # what the face edit says without the extra
export QT_QPA_PLATFORM=offscreen HF_HUB_OFFLINE=1
rm -rf "$shots" && mkdir -p "$shots"

fail() {  # fail NAME WHY: say what failed, with what the command printed on stderr
  echo "smoke: $1 $2:" >&2; cat "$shots/$1.err" >&2; exit 1
}
check() {  # check NAME COMMAND...: fail on a non-zero exit or a traceback on stderr, and on a
  local name=$1 start=$SECONDS  # missing or unreadable screenshot where the command makes one
  shift
  "$@" 2> "$shots/$name.err" || fail "$name" "failed (exit code $?)"
  ! grep -q "Traceback" "$shots/$name.err" || fail "$name" "printed a traceback"
  if [[ " $* " == *" --screenshot "* ]]; then
    python -c "from PIL import Image; import sys; s = Image.open(sys.argv[1]); s.load(); \
      sys.exit(0 if s.format == 'PNG' and min(s.size) > 200 else 1)" "$shots/$name.png" \
      2>> "$shots/$name.err" || fail "$name" "left no usable screenshot $shots/$name.png"
  fi
  echo "smoke: $name ok in $((SECONDS - start)) s"
}

refused() {  # refused NAME SENTENCE COMMAND...: must exit 2 saying SENTENCE, with no traceback
  local name=$1 sentence=$2 start=$SECONDS code=0
  shift 2
  "$@" 2> "$shots/$name.err" || code=$?
  [[ $code == 2 ]] || fail "$name" "should have been refused with exit code 2 (exit code $code)"
  ! grep -q "Traceback" "$shots/$name.err" || fail "$name" "printed a traceback"
  grep -qF "$sentence" "$shots/$name.err" || fail "$name" "did not say \"$sentence\""
  echo "smoke: $name refused as it should in $((SECONDS - start)) s"
}

check self-test "$exe" --self-test
check window "$exe" --screenshot "$shots/window.png" --task drag
for task in "${TASKS[@]}"; do
  check "edit-$task" "$exe" --demo --screenshot "$shots/edit-$task.png" --task "$task" --edit
done
check face "$exe" --demo --screenshot "$shots/face.png" --task face
refused edit-face "$FACE_REFUSAL" "$exe" --demo --screenshot "$shots/edit-face.png" --task face --edit
echo "smoke: passed, screenshots in $shots"
