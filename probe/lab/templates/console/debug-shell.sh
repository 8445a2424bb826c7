#!/bin/bash -p
# probe device lab: the "debug console" a vendor left on a TCP port (served by socat, no login).
# It is NOT a shell: like templates/fakeshell.sh it runs nothing. It imitates a BusyBox root
# prompt, answers `exit`, prints `echo`'s arguments (quotes removed, never evaluated: no
# expansion, no substitution), says "not found" for anything else, and gives up after 50 lines
# or 120 s of silence. (-p: bash ignores BASH_ENV/ENV and functions from the environment.)
PATH=/nonexistent
printf '\nBusyBox v1.31.1 (@{firmware}) built-in shell (ash)\nEnter '"'"'help'"'"' for a list of built-in commands.\n\n'
n=0
while [ "$n" -lt 50 ]; do
  printf '~ # '
  IFS= read -r -t 120 line || { printf '\ntimed out\n'; exit 0; }
  n=$((n + 1))
  line="${line%$'\r'}"
  case "$line" in
    exit|logout|quit) exit 0 ;;
    "") ;;
    "echo "*) rest="${line#echo }"; rest="${rest//\'/}"; rest="${rest//\"/}"; printf '%s\n' "$rest" ;;
    *) word="${line%% *}"; printf -- '-sh: %s: not found\n' "${word//[^A-Za-z0-9_.\/-]/}" ;;
  esac
done
exit 0
