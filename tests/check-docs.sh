#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The docs cannot drift from the code:
# - every symbol of plugin/libmodelvol.map has a doc comment in plugin/modelvol.h and is
#   mentioned in docs/integrator-guide.md;
# - every command `modelvol --help` lists, and every option (long and short) that
#   `modelvol CMD --help-all` prints, is in docs/modelvol.1.scd (and the usage line of
#   `modelvol CMD --help` names the command);
# - every environment variable the code reads (g_getenv in plugin/ storage/ helper/, and the
#   MODELVOL_* names it passes to its settings helper) is in the ENVIRONMENT section of
#   docs/modelvol.1.scd; test switches (MODELVOL_TEST_*) are left out;
# - every option and stage modelvol-hook parses is in docs/modelvol-hook.8.scd.
#   check-docs.sh MODELVOL SRCDIR
set -euo pipefail
export LC_ALL=C
modelvol=$1 src=$2
header=$src/plugin/modelvol.h map=$src/plugin/libmodelvol.map
guide=$src/docs/integrator-guide.md man1=$src/docs/modelvol.1.scd man8=$src/docs/modelvol-hook.8.scd
fail=0 n=0
bad() {
  echo "$*"
  fail=1
}

# --- the C API -------------------------------------------------------------------------------
symbols=$(sed -n 's/^[[:space:]]*\(mv_[a-z0-9_]*\);/\1/p' "$map" | sort -u)
[ -n "$symbols" ] || bad "no symbols in $map"
for sym in $symbols; do
  n=$((n + 1))
  grep -Eq "^ \* $sym:\$" "$header" || bad "$sym: no doc comment (' * $sym:') in plugin/modelvol.h"
  # The comment must say something: at least one line of text or a Returns: after the name.
  awk -v s=" * $sym:" '$0 == s {on = 1; next} on && /^ \*\// {exit} on && /^ \* [A-Za-z@]/ {found = 1} END {exit !found}' "$header" ||
    bad "$sym: its doc comment in plugin/modelvol.h is empty"
  grep -Eq "\b$sym\b" "$guide" || bad "$sym: not mentioned in docs/integrator-guide.md"
done

# --- modelvol(1): commands and options --------------------------------------------------------
# The COMMANDS section of the man page: what lies between "# COMMANDS" and the next "# ".
commands_section=$(awk '/^# COMMANDS/ {on = 1; next} /^# / {on = 0} on' "$man1")
cmds=$("$modelvol" --help | awk '/^Commands:/ {on = 1; next} on && /^  [a-z]/ {print $1}')
[ -n "$cmds" ] || bad "modelvol --help lists no commands"
for cmd in $cmds; do
  n=$((n + 1))
  grep -Eq "^\*$cmd(\*| )" <<<"$commands_section" ||
    bad "command '$cmd' (modelvol --help) has no entry ('*$cmd* ...') under COMMANDS in docs/modelvol.1.scd"
  help=$("$modelvol" "$cmd" --help-all) || bad "modelvol $cmd --help-all failed"
  grep -q "^  modelvol $cmd " <<<"$help" || bad "modelvol $cmd --help: the usage line does not name the command"
  # "  -j, --jobs=N   ..." and "  --name=REF   ...": the options, without GOption's own help ones.
  opts=$(sed -n 's/^  \(-[a-zA-Z], \)\{0,1\}\(--[a-z][a-z0-9-]*\).*/\1\2/p' <<<"$help" |
    tr -d ',' | tr ' ' '\n' | grep -Ev '^--help(-all|-[a-z]+)?$|^-h$' | sort -u)
  for opt in $opts; do
    n=$((n + 1))
    # scdoc writes options bold: *--name* or *-j*, *--jobs* (maybe with =_VALUE_).
    grep -Fq -- "*$opt*" "$man1" || grep -Fq -- "*$opt=" "$man1" ||
      bad "option $opt of 'modelvol $cmd' is not in docs/modelvol.1.scd (as *$opt*)"
  done
done
# --version and --help-all/--help-global are GOption's or main's own: documented once.
for opt in --version --help; do
  n=$((n + 1))
  grep -Fq -- "*$opt*" "$man1" || bad "global option $opt is not in docs/modelvol.1.scd"
done

# --- modelvol(1): environment -----------------------------------------------------------------
env_section=$(awk '/^# ENVIRONMENT/ {on = 1; next} /^# / {on = 0} on' "$man1")
vars=$(
  grep -rhoE 'g_getenv \("[A-Z_][A-Z0-9_]*"\)' "$src/plugin" "$src/storage" "$src/helper" |
    sed 's/.*"\(.*\)".*/\1/'
  # Settings read through a helper that takes the variable's name (plugin/mv-registry.c).
  grep -rhoE '"MODELVOL_[A-Z0-9_]+"' "$src/plugin" "$src/storage" "$src/helper" | tr -d '"'
)
vars=$(sort -u <<<"$vars" | grep -v '^MODELVOL_TEST_' || true)
[ -n "$vars" ] || bad "found no environment variables in the code (grep broken?)"
for v in $vars; do
  n=$((n + 1))
  grep -Eq "\*$v\*" <<<"$env_section" ||
    bad "environment variable $v (read by the code) is not under ENVIRONMENT in docs/modelvol.1.scd"
done

# --- modelvol-hook(8) -------------------------------------------------------------------------
hook_opts=$(grep -hoE 'g_str_equal \(argv\[i\], "--?[a-z][a-z0-9-]*"\)' "$src"/hooks/*.c |
  sed 's/.*"\(.*\)".*/\1/' | sort -u)
[ -n "$hook_opts" ] || bad "found no modelvol-hook options in hooks/ (grep broken?)"
stages=$(grep -hoE 'g_str_equal \(stage, "[A-Za-z]+"\)' "$src"/hooks/*.c | sed 's/.*"\(.*\)".*/\1/' | sort -u)
[ -n "$stages" ] || bad "found no modelvol-hook stages in hooks/ (grep broken?)"
for o in $hook_opts $stages; do
  n=$((n + 1))
  grep -Fq -- "*$o*" "$man8" || bad "modelvol-hook's '$o' is not in docs/modelvol-hook.8.scd (as *$o*)"
done

if [ $fail = 0 ]; then echo "ok: $n names checked: the API, modelvol(1) and modelvol-hook(8) match the code"; fi
exit $fail
