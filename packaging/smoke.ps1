# Prove a built Windows bundle works as a user meets it: the same checks as
# packaging/smoke.sh on Linux (self-test, an offscreen window, the demo's edit of every task
# through the window's own path; the face task's panel, and its edit refused without the
# optional face extra), run with diffeditor-cli.exe, the console twin.
#
#   powershell -ExecutionPolicy Bypass -File packaging\smoke.ps1 [BUNDLE_DIR]
#
# Not run here: this project's CI is Linux only. Reviewed line by line against smoke.sh.
param([string]$Bundle = "build\dist\diffeditor")
$ErrorActionPreference = "Stop"
Set-Location (Join-Path $PSScriptRoot "..")
$exe = Join-Path $Bundle "diffeditor-cli.exe"
$shots = "build\smoke"
$tasks = @("move", "drag", "appearance", "paste")  # the --task choices the demo edits
$faceRefusal = "optional face extra"  # what the face edit says without the extra
$env:QT_QPA_PLATFORM = "offscreen"; $env:HF_HUB_OFFLINE = "1"
if (Test-Path $shots) { Remove-Item -Recurse -Force $shots }
New-Item -ItemType Directory -Force $shots | Out-Null

function Test-Step {  # run one check; fail on a non-zero exit or a traceback on stderr
  param([string]$Name, [string[]]$Arguments)
  $start = Get-Date
  $err = Join-Path $shots "$Name.err"
  & $exe @Arguments 2> $err
  if ($LASTEXITCODE -ne 0) { Get-Content $err; throw "smoke: $Name failed ($LASTEXITCODE)" }
  if (Select-String -Path $err -Pattern "Traceback" -Quiet) {
    Get-Content $err; throw "smoke: $Name printed a traceback"
  }
  Write-Host ("smoke: $Name ok in {0:N0} s" -f ((Get-Date) - $start).TotalSeconds)
}

Test-Step "self-test" @("--self-test")
Test-Step "window" @("--screenshot", "$shots\window.png", "--task", "drag")
foreach ($task in $tasks) {
  Test-Step "edit-$task" @("--demo", "--screenshot", "$shots\edit-$task.png", "--task", $task, "--edit")
}
Test-Step "face" @("--demo", "--screenshot", "$shots\face.png", "--task", "face")
$err = Join-Path $shots "edit-face.err"
& $exe --demo --screenshot "$shots\edit-face.png" --task face --edit 2> $err
if ($LASTEXITCODE -ne 2) { Get-Content $err; throw "smoke: edit-face should have been refused ($LASTEXITCODE)" }
if (Select-String -Path $err -Pattern "Traceback" -Quiet) { Get-Content $err; throw "smoke: edit-face printed a traceback" }
if (-not (Select-String -Path $err -SimpleMatch $faceRefusal -Quiet)) { throw "smoke: edit-face did not say '$faceRefusal'" }
Write-Host "smoke: edit-face refused as it should"
foreach ($name in @("window", "face") + ($tasks | ForEach-Object { "edit-$_" })) {
  $png = Join-Path $shots "$name.png"
  if (-not (Test-Path $png) -or (Get-Item $png).Length -lt 1000) { throw "smoke: no screenshot $png" }
}
Write-Host "smoke: $($tasks.Count + 2) screenshots in $shots"
