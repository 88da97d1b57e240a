; ALU Desk for Windows: Inno Setup 6 script over the one-folder build of installer/alu-client.spec.
;
; Built by installer\windows\build.ps1 (PyInstaller, then this), or by hand from the top of the
; checkout after the PyInstaller build:
;
;   iscc /DAppVersion=0.1.0 /DSourceDir=dist\alu-client /DIconFile=build\pyinstaller\alu-client\alu-client.ico ^
;        /Odist installer\windows\alu-client.iss
;
; Per-user install (no administrator rights): %LOCALAPPDATA%\Programs\ALU Desk, a Start menu
; entry, an uninstaller in Settings > Apps, and an optional "start when I sign in" task that
; writes the same Run value the app's own setting uses (Settings > General), so either can
; turn it off. Silent install for IT: setup.exe /VERYSILENT /SUPPRESSMSGBOXES [/TASKS=startatlogin]

#ifndef AppVersion
  #error Pass the version: iscc /DAppVersion=X.Y.Z (build.ps1 reads it from alu_client.__version__)
#endif
#ifndef SourceDir
  #define SourceDir "..\..\dist\alu-client"
#endif

#define AppName "ALU Desk"
#define AppExe "alu-client.exe"

[Setup]
; The AppId identifies the product for upgrades and the uninstaller: never change it.
AppId={{2FAD889F-7F81-4A86-8960-3A5547548A91}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion}
AppPublisher=Africa Link Union
VersionInfoVersion={#AppVersion}
VersionInfoProductName={#AppName}
; per user: no UAC prompt, installs under %LOCALAPPDATA%\Programs
PrivilegesRequired=lowest
DefaultDirName={autopf}\{#AppName}
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
DisableDirPage=auto
UsePreviousAppDir=yes
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
MinVersion=10.0
WizardStyle=modern
Compression=lzma2/max
SolidCompression=yes
OutputBaseFilename=alu-desk-{#AppVersion}-windows-x64-setup
UninstallDisplayName={#AppName}
UninstallDisplayIcon={app}\{#AppExe}
; an update closes a running ALU Desk first (transfers resume at the next start)
CloseApplications=force
RestartApplications=no
#ifdef IconFile
SetupIconFile={#IconFile}
#endif

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"
Name: "french"; MessagesFile: "compiler:Languages\French.isl"

[CustomMessages]
english.StartAtLogin=Start ALU Desk when I sign in to Windows
french.StartAtLogin=Démarrer ALU Desk à l'ouverture de ma session Windows
english.Startup=Start-up:
french.Startup=Démarrage :

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked
Name: "startatlogin"; Description: "{cm:StartAtLogin}"; GroupDescription: "{cm:Startup}"; Flags: unchecked

[InstallDelete]
; an update replaces the bundle whole: no library of an older build is left to be loaded
Type: filesandordirs; Name: "{app}\_internal"

[Files]
Source: "{#SourceDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{autoprograms}\{#AppName}"; Filename: "{app}\{#AppExe}"; Comment: "The Africa Link Union news exchange"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\{#AppExe}"; Tasks: desktopicon

[Registry]
; The same value as the app's "Start at login" setting (alu_client/ui/autostart.py).
Root: HKCU; Subkey: "Software\Microsoft\Windows\CurrentVersion\Run"; ValueType: string; ValueName: "{#AppName}"; ValueData: """{app}\{#AppExe}"""; Flags: uninsdeletevalue; Tasks: startatlogin
; and removed at uninstall however it was set (the task or the app's setting)
Root: HKCU; Subkey: "Software\Microsoft\Windows\CurrentVersion\Run"; ValueType: none; ValueName: "{#AppName}"; Flags: uninsdeletevalue

[Run]
Filename: "{app}\{#AppExe}"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent

[UninstallDelete]
; the app's own files only; the user's data (%LOCALAPPDATA%\alu-client), downloads and
; sign-in (Credential Manager) stay, as after an update
Type: filesandordirs; Name: "{app}\_internal"
