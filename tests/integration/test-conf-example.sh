#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# contrib/modelvol.conf.example and modelvol.conf(5) name every key the code reads (from
# g_key_file calls and key tables, tests/lib/conf-keys.py) and no other; the example loads
# cleanly in modelvol and in modelvol-hook, as shipped (all commented out) and with every
# documented default uncommented; a wrong value in it is refused by name (so loading is
# really checked).
. "$(dirname "$0")/../lib/common.sh"

EXAMPLE=$SRCDIR/contrib/modelvol.conf.example
MAN=$SRCDIR/docs/modelvol.conf.5.scd
HOOK_MAIN=${MODELVOL_HOOK_MAIN:-$(dirname "$MODELVOL")/../hooks/modelvol-hook-main}

run_ok "the keys the code reads are found" -- python3 "$TESTS_LIB/conf-keys.py" "$SRCDIR"
keys=$LAST_STDOUT
assert_match "$(wc -l <<<"$keys")" '^(2[0-9]|[3-9][0-9])$' "at least 20 keys ($(wc -l <<<"$keys"))"
for k in "store root" "hook pull-allowlist" "registries timeout" "limits max-layers" "limits unpack-timeout"; do
  check "the key list has [${k% *}] ${k#* }" -- grep -qx "$k" <<<"$keys"
done
check "every key is in the example and the man page, and they have no other" -- \
  python3 "$TESTS_LIB/conf-doc-check.py" "$EXAMPLE" "$MAN" <<<"$keys"

# The checker itself: a key missing from a copy, or one no code reads, is reported.
grep -v '^#max-ratio=' "$EXAMPLE" >"$T/missing.conf"
sed 's/^#noexec=/#no-exec=/' "$EXAMPLE" >"$T/typo.conf"
expect_exit 1 "a key left out of the example is found" -- \
  python3 "$TESTS_LIB/conf-doc-check.py" "$T/missing.conf" "$MAN" <<<"$keys"
assert_match "$LAST_STDOUT" '^\[limits\] max-ratio: read by the code, missing from the example$' "...and named"
expect_exit 1 "a misspelt key in the example is found" -- \
  python3 "$TESTS_LIB/conf-doc-check.py" "$T/typo.conf" "$MAN" <<<"$keys"
assert_match "$LAST_STDOUT" 'no-exec: in the example, but no code reads it' "...and named"
mkdir -p "$T/src/storage"
printf 'int f(GKeyFile *kf, const char *k) { return g_key_file_get_integer (kf, "watch", k, NULL); }\n' >"$T/src/storage/x.c"
expect_exit 1 "a key read through a variable the lister does not know is refused" -- \
  python3 "$TESTS_LIB/conf-keys.py" "$T/src"
assert_match "$LAST_STDERR" 'storage/x.c:1: g_key_file call with a non-literal' "...naming the file and line"

# Loading: as shipped, and with every default uncommented.
sed -E 's/^#([a-z0-9-]+=)/\1/' "$EXAMPLE" >"$T/defaults.conf"
check "uncommenting gives a key=value line per key" -- \
  test "$(grep -cE '^[a-z0-9-]+=' "$T/defaults.conf")" -eq "$(wc -l <<<"$keys")"
for conf in "$EXAMPLE" "$T/defaults.conf"; do
  name=$(basename "$conf")
  run_ok "MODELVOL_CONFIG=$name modelvol ls" -- env MODELVOL_CONFIG="$conf" "$MODELVOL" --root "$ROOT" ls
  assert_eq "$LAST_STDERR" "" "...says nothing on stderr"
  run_ok "modelvol-hook-main --config $name loads it (an OCI state of no interest)" -- \
    bash -c 'echo "{\"ociVersion\": \"1.0.2\", \"id\": \"x\", \"status\": \"creating\", \"bundle\": \"/nonexistent\"}" | "$@"' \
    _ "$HOOK_MAIN" --config "$conf" createRuntime
  assert_eq "$LAST_STDOUT$LAST_STDERR" "" "...silently"
done

# A bad value in each program's sections is refused by name.
sed 's/^max-layers=.*/max-layers=0/' "$T/defaults.conf" >"$T/bad-limits.conf"
expect_fail 1 "bad-limits.conf.*max-layers" "a bad [limits] value stops modelvol" -- \
  env MODELVOL_CONFIG="$T/bad-limits.conf" "$MODELVOL" --root "$ROOT" ls
sed 's/^annotation-pulls=.*/annotation-pulls=sometimes/' "$T/defaults.conf" >"$T/bad-hook.conf"
expect_fail 1 "\[hook\] annotation-pulls" "a bad [hook] value stops the hook" -- \
  bash -c 'echo "{}" | "$@"' _ "$HOOK_MAIN" --config "$T/bad-hook.conf" createRuntime
sed 's/^low-speed-time=.*/low-speed-time=-1/' "$T/defaults.conf" >"$T/bad-reg.conf"
expect_fail 1 "\[registries\] low-speed-time" "a bad [registries] value stops the hook" -- \
  bash -c 'echo "{}" | "$@"' _ "$HOOK_MAIN" --config "$T/bad-reg.conf" createRuntime

finish
