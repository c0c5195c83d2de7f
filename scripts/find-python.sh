#!/bin/sh
# Print the path of a Python >= 3.12 interpreter, or nothing. Used by the Makefile.
# Prefers 3.12: requirements.lock is made with it.
# Order: python3.12, python3.13, python3 on PATH (pyenv shims skipped: they may point at a
# version that is not installed), then the interpreters that pyenv keeps under `pyenv root`.
is_recent() {
    "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1
}
for name in python3.12 python3.13 python3; do
    path=$(command -v "$name" 2>/dev/null) || continue
    case "$path" in */shims/*) continue ;; esac
    if is_recent "$path"; then echo "$path"; exit 0; fi
done
root=$(pyenv root 2>/dev/null || echo "${PYENV_ROOT:-$HOME/.pyenv}")
# 3.12 first (the version the lock file is made with), then newer ones.
for candidate in $(ls -d "$root"/versions/3.12* 2>/dev/null | sort -rV) \
    $(ls -d "$root"/versions/3.1[3-9]* 2>/dev/null | sort -V); do
    if is_recent "$candidate/bin/python3"; then echo "$candidate/bin/python3"; exit 0; fi
done
exit 0
