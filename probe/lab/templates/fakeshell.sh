#!/bin/bash -p
# probe device lab: the login "shell" of every lab account. It is NOT a shell.
# A login on a lab device is a real login on the host machine (only the network is namespaced),
# so this script only imitates a device prompt: it answers `exit`, prints "not found" for
# anything else, runs nothing, and gives up after 50 lines or 120 s of silence.
# (-p: bash ignores BASH_ENV/ENV and functions from the environment a client might have set.)
PATH=/nonexistent
user="${USER:-${LOGNAME:-user}}"
user="${user//[^A-Za-z0-9_-]/}"
prompt="${user}@${hostname}:~\$ "
if [ "$1" = "-c" ]; then
  cmd="${2%% *}"
  printf -- '-sh: %s: not found\n' "${cmd//[^A-Za-z0-9_.\/-]/}" >&2
  exit 127
fi
printf '\nBusyBox v1.30.1 built-in shell (ash)\n\n'
n=0
while [ "$n" -lt 50 ]; do
  printf '%s' "$prompt"
  IFS= read -r -t 120 line || { printf '\ntimed out\n'; exit 0; }
  n=$((n + 1))
  line="${line%$'\r'}"
  case "$line" in
    exit|logout|quit) exit 0 ;;
    "") ;;
    *) word="${line%% *}"; printf -- '-sh: %s: not found\n' "${word//[^A-Za-z0-9_.\/-]/}" ;;
  esac
done
exit 0
