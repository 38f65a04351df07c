# Prove a built Windows bundle works as a user meets it: the same checks as
# packaging/smoke.sh on Linux (self-test, an offscreen window, the demo's edit of every task
# through the window's own path), run with diffeditor-cli.exe, the console twin.
#
#   powershell -ExecutionPolicy Bypass -File packaging\smoke.ps1 [BUNDLE_DIR]
#
# Not run here: this project's CI is Linux only. Reviewed line by line against smoke.sh.
param([string]$Bundle = "build\dist\diffeditor")
$ErrorActionPreference = "Stop"
Set-Location (Join-Path $PSScriptRoot "..")
$exe = Join-Path $Bundle "diffeditor-cli.exe"
$shots = "build\smoke"
$tasks = @("move", "drag", "appearance", "paste", "face")  # the --task choices: every demo edit
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
foreach ($name in @("window") + ($tasks | ForEach-Object { "edit-$_" })) {
  $png = Join-Path $shots "$name.png"
  if (-not (Test-Path $png) -or (Get-Item $png).Length -lt 1000) { throw "smoke: no screenshot $png" }
}
Write-Host "smoke: $($tasks.Count + 1) screenshots in $shots"
