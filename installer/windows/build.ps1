# ALU Desk for Windows: the one-folder app (installer\alu-client.spec), then the Inno Setup
# installer dist\alu-desk-VERSION-windows-x64-setup.exe (installer\windows\alu-client.iss).
#
#   powershell -ExecutionPolicy Bypass -File installer\windows\build.ps1 [-SelfTest]
#
# Needs Python 3.11+ with the project installed with its build extra (pip install -e .[build]
# from requirements.lock) as $env:PYTHON or `python`, and Inno Setup 6 (ISCC.exe on the PATH
# or in its default folder). -SelfTest then installs the setup for this user into a temporary
# folder, runs the installed app's --self-test (offscreen) and uninstalls it.
param([switch]$SelfTest)
$ErrorActionPreference = "Stop"
$root = (Resolve-Path "$PSScriptRoot\..\..").Path
Set-Location $root
$python = if ($env:PYTHON) { $env:PYTHON } else { "python" }

function Invoke-Checked([string]$exe, [string[]]$arguments) {
    & $exe @arguments
    if ($LASTEXITCODE -ne 0) { throw "$exe failed (exit $LASTEXITCODE)" }
}

$version = (Select-String -Path "src\alu_client\__init__.py" -Pattern '^__version__ = "([^"]+)"').Matches[0].Groups[1].Value
Write-Host "== ALU Desk $version: the one-folder app (PyInstaller)"
Remove-Item -Recurse -Force -ErrorAction SilentlyContinue "build\pyinstaller", "dist\alu-client"
Invoke-Checked $python @("tools\i18n.py", "build")
Invoke-Checked $python @("-m", "PyInstaller", "--noconfirm", "--clean", "--log-level", "WARN",
    "--distpath", "dist", "--workpath", "build\pyinstaller", "installer\alu-client.spec")
$size = (Get-ChildItem -Recurse -File "dist\alu-client" | Measure-Object -Property Length -Sum).Sum
Write-Host ("one-folder app: {0:N0} MB" -f ($size / 1MB))

Write-Host "== the installer (Inno Setup)"
$iscc = (Get-Command "ISCC.exe" -ErrorAction SilentlyContinue).Source
if (-not $iscc) { $iscc = "${env:ProgramFiles(x86)}\Inno Setup 6\ISCC.exe" }
if (-not (Test-Path $iscc)) { throw "Inno Setup 6 is missing (ISCC.exe): install it (choco install innosetup)" }
Invoke-Checked $iscc @("/Qp", "/DAppVersion=$version", "/DSourceDir=$root\dist\alu-client",
    "/DIconFile=$root\build\pyinstaller\alu-client\alu-client.ico", "/O$root\dist",
    "installer\windows\alu-client.iss")
$setup = "dist\alu-desk-$version-windows-x64-setup.exe"
Write-Host ("{0}: {1:N0} MB" -f $setup, ((Get-Item $setup).Length / 1MB))

if ($SelfTest) {
    $target = Join-Path $env:RUNNER_TEMP "alu-desk-install"
    if (-not $env:RUNNER_TEMP) { $target = Join-Path $env:TEMP "alu-desk-install" }
    Write-Host "== self-test of the installed app ($target)"
    $p = Start-Process -FilePath $setup -Wait -PassThru -ArgumentList @(
        "/VERYSILENT", "/SUPPRESSMSGBOXES", "/NORESTART", "/DIR=`"$target`"")
    if ($p.ExitCode -ne 0) { throw "the setup failed (exit $($p.ExitCode))" }
    $env:QT_QPA_PLATFORM = "offscreen"
    # a windowed app: its output reaches us through a redirection
    $out = Join-Path $env:TEMP "alu-desk-self-test.out"
    $err = Join-Path $env:TEMP "alu-desk-self-test.err"
    $run = Start-Process -FilePath (Join-Path $target "alu-client.exe") -ArgumentList "--self-test" `
        -Wait -PassThru -NoNewWindow -RedirectStandardOutput $out -RedirectStandardError $err
    Get-Content $out
    if ($run.ExitCode -ne 0) {
        # the log is named after the account (alu-client-self-test-USER.log; see the last line above)
        Get-Content -ErrorAction SilentlyContinue $err, (Join-Path $env:TEMP "alu-client-self-test-*.log")
        throw "the installed app's self-test failed (exit $($run.ExitCode))"
    }
    $p = Start-Process -FilePath (Join-Path $target "unins000.exe") -Wait -PassThru `
        -ArgumentList @("/VERYSILENT", "/SUPPRESSMSGBOXES", "/NORESTART")
    if ($p.ExitCode -ne 0) { throw "the uninstaller failed (exit $($p.ExitCode))" }
}
