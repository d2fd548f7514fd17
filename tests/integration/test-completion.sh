#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# contrib/completion/modelvol.bash: its tables hold every command and option the built
# modelvol has (from --help, both ways), and sourced into bash it completes commands,
# options, option values, oci: layouts and the store's model names (references with
# host:port complete whole, as bash splits words at ':').
. "$(dirname "$0")/../lib/common.sh"

COMPLETION=$SRCDIR/contrib/completion/modelvol.bash
check "the completion script parses" -- bash -n "$COMPLETION"

# What the binary has.
mapfile -t cmds < <("$MODELVOL" --help | awk '/^Commands:/ {on = 1; next} on && /^  [a-z]/ {print $1}')
assert_match "${#cmds[@]}" '^1[0-9]$' "modelvol --help lists its commands (${#cmds[@]})"
# shellcheck source=/dev/null
. "$COMPLETION"
# shellcheck disable=SC2154  # set by the completion script
assert_eq "$(printf '%s\n' "${cmds[@]}" | sort)" "$(printf '%s\n' $_modelvol_commands | sort)" \
  "the completion knows exactly the commands of modelvol --help"
for c in "${cmds[@]}"; do
  # "  -j, --jobs=N  ..." and "  --noexec  ...": every short and long option but help's.
  got=$("$MODELVOL" "$c" --help | grep -E '^  +-' | grep -oE '(^|, |^ +)(-[a-zA-Z]|--[a-z][a-z-]*)' \
    | tr -d ', ' | { grep -vxE -- '-h|--help|--help-all|--help-global' || true; } | sort -u)
  var=_modelvol_opts_$c
 # shellcheck disable=SC2086
  assert_eq "$got" "$(printf '%s\n' ${!var:-} | { grep . || true; } | sort -u)" "options of '$c' match its --help"
done
mapfile -t globals < <("$MODELVOL" ls --help-global | grep -E '^  +-' | grep -oE '(^|, |^ +)(-[a-zA-Z]|--[a-z][a-z-]*)' | tr -d ', ' | sort -u)
# shellcheck disable=SC2154  # set by the completion script
assert_eq "$(printf '%s\n' "${globals[@]}")" "$(printf '%s\n' $_modelvol_global_opts | grep -vx -- --help | sort -u)" \
  "global options match --help-global"

# A store with two named models (one reference with a port) and an unnamed one.
mkmodel preset shared --variant a --seed compl --out "$T/la" --ref v1 >/dev/null
mkmodel preset shared --variant b --seed compl --out "$T/lb" --ref v1 >/dev/null
run_ok "import a" -- mvol import "oci:$T/la:v1" --name 127.0.0.1:5000/org/model-a:v1
run_ok "import b" -- mvol import "oci:$T/lb:v1" --name example.com/models/bert:v2
mkdir -p "$T/layouts/one" "$T/layouts/two"

# complete LINE: runs the completion as bash would for LINE (cursor at its end); the
# replies, one a line, sorted, in $GOT.
complete_line() {
  COMP_LINE=$1
  COMP_POINT=${#1}
  COMP_WORDBREAKS=$' \t\n"\'><=;|&(:'
  COMPREPLY=()
  _modelvol
  GOT=$(printf '%s\n' "${COMPREPLY[@]}" | grep . | sort || true)
}
expect_completion() { # LINE WANT-LINES...
  local line=$1
  shift
  complete_line "$line"
  assert_eq "$GOT" "$(printf '%s\n' "$@" | grep . | sort || true)" "completing '$line'"
}

M=$MODELVOL
expect_completion "$M " "${cmds[@]}"
expect_completion "$M pu" pull
expect_completion "$M --json i" import inspect
expect_completion "$M pull --tls" --tls-verify
expect_completion "$M pull --tls-verify " true false
expect_completion "$M pull --tls-verify=f" false
expect_completion "$M import --progress p" plain
expect_completion "$M prune --d" --dry-run
complete_line "$M prune -"
assert_match "$(echo $GOT)" '(^| )--root( |$).*' "global options are offered after a command"
expect_completion "$M cdi " generate
expect_completion "$M cdi generate --mount-dir $T/layouts/t" "$T/layouts/two"
expect_completion "$M import " oci:
expect_completion "$M import oci:$T/layouts/o" "$T/layouts/one"
expect_completion "$M --root $ROOT inspect " 127.0.0.1:5000/org/model-a:v1 example.com/models/bert:v2
expect_completion "$M --root=$ROOT path ex" example.com/models/bert:v2
# bash splits "127.0.0.1:5000/org/model-a:v" at ':': the reply is what follows the last one.
expect_completion "$M --root $ROOT rm 127.0.0.1:5000/org/model-a:v" v1
expect_completion "$M --root $ROOT mount example.com/models/bert:v2 $T/layouts/" "$T/layouts/one" "$T/layouts/two"
expect_completion "$M --root $ROOT mount --subpath $T/layouts/o" "$T/layouts/one"
run_ok "remove a's name" -- mvol rm 127.0.0.1:5000/org/model-a:v1
digest=$(mvol -q ls | grep '^sha256:')
expect_completion "$M --root $ROOT inspect sha256:" "${digest#sha256:}"
expect_completion "$M --root $T/none inspect " ""

finish
