# Build the Windows one-folder bundle build\dist\diffeditor\ in the active Python environment,
# after installing the locked versions into it (requirements\windows-dev.txt), then prove it
# with packaging\smoke.ps1 (the same checks as packaging/smoke.sh on Linux).
#
#   powershell -ExecutionPolicy Bypass -File packaging\build_windows.ps1        # the folder
#   powershell -ExecutionPolicy Bypass -File packaging\build_windows.ps1 -Zip   # and a .zip
#
# Step for step the same as packaging/build_linux.sh. It has not been run: this project's CI is
# Linux only. Reviewed line by line against the Linux script.
#
# Torch decides what the bundle runs on:
#   CPU only:      nothing to do: step 1 installs requirements\windows-torch-cpu.txt
#                                                                 -> bundle about 1 GB
#   NVIDIA (CUDA): pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cu128
#                  (before this script)                           -> bundle about 4-5 GB
#                  (the CUDA, cuDNN and cuBLAS DLLs are most of it); the driver is the user's.
#
# Output: diffeditor.exe (windowed: no console, no stdout) and diffeditor-cli.exe (the same
# program with a console). Check a bundle with:  build\dist\diffeditor\diffeditor-cli.exe --self-test
# Both carry the icon and a version resource built from diffeditor_app.__version__ by the spec.
param([switch]$Zip)
$ErrorActionPreference = "Stop"
Set-Location (Join-Path $PSScriptRoot "..")
$start = Get-Date

function Invoke-Checked {  # like `set -e`: stop when a native command fails
  param([string]$Exe, [string[]]$Arguments)
  & $Exe @Arguments
  if ($LASTEXITCODE -ne 0) { throw "$Exe $($Arguments -join ' ') failed ($LASTEXITCODE)" }
}

# 1. The locked versions (requirements\windows-*.txt), PyInstaller among them; torch's CPU
#    build unless a CUDA build is installed already (see below).
$torchLock = @()
python -c "import torch" 2>$null
if ($LASTEXITCODE -ne 0) { $torchLock = @("-r", "requirements\windows-torch-cpu.txt") }
Invoke-Checked python (@("-m", "pip", "install", "-q", "--require-hashes") + $torchLock +
  @("-r", "requirements\windows-dev.txt"))
Invoke-Checked python @("-m", "pip", "install", "-q", "--no-deps", "-e", ".")
$version = (python -c "import diffeditor_app; print(diffeditor_app.__version__)").Trim()

# 2. The bundle (quiet imports while PyInstaller analyses diffusers and transformers).
$env:TRANSFORMERS_VERBOSITY = "error"; $env:DIFFUSERS_VERBOSITY = "error"
$env:HF_HUB_DISABLE_PROGRESS_BARS = "1"
Invoke-Checked python @("-m", "PyInstaller", "packaging\diffeditor.spec", "--noconfirm",
  "--log-level", "WARN", "--distpath", "build\dist", "--workpath", "build\pyi")
$bundle = "build\dist\diffeditor"

# 3. The icon next to the executables (the .exe files carry it too; Windows needs no .desktop).
Copy-Item resources\icons\diffeditor.ico $bundle

# 4. Optional zip.
if ($Zip) {
  $archive = "build\diffeditor-$version-windows-x64.zip"
  Compress-Archive -Force -Path $bundle -DestinationPath $archive
  $zipSize = "{0:N0} MB" -f ((Get-Item $archive).Length / 1MB)
  Write-Host "zip: $archive ($zipSize)"
}
# 5. The smoke: self-test, an offscreen window and the demo's edit of every task.
Invoke-Checked powershell @("-ExecutionPolicy", "Bypass", "-File", "packaging\smoke.ps1", $bundle)

$size = "{0:N0} MB" -f ((Get-ChildItem $bundle -Recurse -File | Measure-Object Length -Sum).Sum / 1MB)
$seconds = [int]((Get-Date) - $start).TotalSeconds
Write-Host "bundle: $bundle ($size), version $version, built in $seconds s"
