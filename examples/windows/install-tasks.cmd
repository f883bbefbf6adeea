@echo off
rem Schedules preauth's keep-alive (daily) and, for machines without a monitoring agent, the
rem check (every six hours), for the account that runs this script: the account that logged
rem in with preauth and owns the connections (the device key is bound to it and to this
rem machine). Run it in an elevated Command Prompt from this folder; schtasks asks for the
rem account's password, which Task Scheduler needs to run the tasks while nobody is logged
rem on (the device key's host secret is protected with the account's DPAPI keys).
rem
rem   install-tasks.cmd
rem
rem Settings folder: Invantive's own, %USERPROFILE%\invantive (remove --settings-dir for
rem preauth's default, %LOCALAPPDATA%\preauth\settings).

setlocal
set "PREAUTH=C:\Program Files\preauth\preauth.exe"
set "SETTINGS=%USERPROFILE%\invantive"

if not exist "C:\ProgramData\preauth" mkdir "C:\ProgramData\preauth"
copy /Y "%~dp0..\keepalive.sql" "C:\ProgramData\preauth\keepalive.sql" >nul || exit /b 1

rem The keep-alive, from the task definition (StartWhenAvailable: a missed day runs later).
schtasks /Create /F /TN "preauth\keepalive" /XML "%~dp0preauth-keepalive.xml" /RU "%USERDOMAIN%\%USERNAME%" /RP * || exit /b 1

rem The same without the XML file, on one line (no catch-up of a missed day):
rem schtasks /Create /F /TN "preauth\keepalive" /SC DAILY /ST 03:17 /RU "%USERDOMAIN%\%USERNAME%" /RP * /TR "\"%PREAUTH%\" --settings-dir \"%SETTINGS%\" \"C:\ProgramData\preauth\keepalive.sql\""

rem Optional: the check every six hours; its exit code (1 WARNING, 2 CRITICAL, 3 UNKNOWN) is
rem the task's Last Run Result. With a monitoring agent, run the check from the agent instead
rem (monitoring.md).
schtasks /Create /F /TN "preauth\check" /SC HOURLY /MO 6 /RU "%USERDOMAIN%\%USERNAME%" /RP * /TR "\"%PREAUTH%\" --settings-dir \"%SETTINGS%\" check --warn-days 7 --critical-days 2" || exit /b 1

schtasks /Query /TN "preauth\keepalive"
endlocal
