#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# SECURITY-BAR 40: what modelvol prints of untrusted text is escaped (an ANSI escape in a tar
# member name, in a config's fields), and credentials files are opened safely: a symlink, a
# FIFO (no hang) and a file writable by others are refused with one line; a 0600 file works;
# the password never appears at -v.
. "$(dirname "$0")/../lib/common.sh"
. "$TESTS_LIB/registry.sh"

ESC=$'\x1b'
# A layer whose member name carries a terminal escape, on a path that is refused anyway.
cat >"$T/ansi.json" <<'EOF'
{"family": "cncf", "layers": [
 {"kind": "code", "format": "tar", "path": "code", "entries": [{"name": "../\u001b[2J\u001b[31mred", "content": "x\n"}]}
]}
EOF
mkmodel build --spec "$T/ansi.json" --out "$T/ansi" --ref v1 >/dev/null
expect_fail 1 'contains a control character' "an escape sequence in a member name" -- mvol import "oci:$T/ansi:v1"
check "the error line carries no raw ESC byte" -- bash -c '! grep -q "$1" <<<"$2"' _ "$ESC" "$LAST_STDERR"
check "it shows the escape as \\x1b" -- grep -qF '\x1b[2J' <<<"$LAST_STDERR"

# A config whose fields carry escapes: inspect shows them escaped.
cat >"$T/cfg.json" <<'EOF'
{"descriptor": {"name": "evil\u001b[2J\u001b]0;owned\u0007", "version": "1\u001b[31m"},
 "config": {}, "modelfs": {"type": "layers", "diffIds": []}}
EOF
mkmodel preset shared --variant a --seed cli --config "$T/cfg.json" --out "$T/evil" --ref v1 >/dev/null
run_ok "import a model with escapes in its config" -- mvol import "oci:$T/evil:v1" --name example.com/evil:v1
run_ok "inspect it" -- mvol inspect example.com/evil:v1
check "inspect prints no raw ESC or BEL byte" -- bash -c '! grep -q "[$1$2]" <<<"$3"' _ "$ESC" $'\a' "$LAST_STDOUT"
run_ok "inspect --json" -- mvol --json inspect example.com/evil:v1
check "--json escapes them as JSON does" -- bash -c '! grep -q "$1" <<<"$2" && jq -e . <<<"$2" >/dev/null' _ "$ESC" "$LAST_STDOUT"

# Credentials files.
registry_start "$T/reg" alice:s3cret-Pa55 >/dev/null
R=$REGISTRY
run_ok "push a private model" -- ocipush --user alice:s3cret-Pa55 "oci:$T/evil:v1" "$R/org/private:v1"
printf '{"auths": {"%s": {"auth": "%s"}}}\n' "$R" "$(printf 'alice:s3cret-Pa55' | base64)" >"$T/real.json"
chmod 600 "$T/real.json"
ln -s "$T/real.json" "$T/link.json"
expect_fail 1 "credentials: .*link.json" "a credentials file that is a symlink" -- \
  mvol pull --tls-verify=false --authfile "$T/link.json" "$R/org/private:v1"
mkfifo "$T/fifo.json"
expect_fail 1 "credentials: .*fifo.json.*not a regular file" "a credentials file that is a FIFO (no hang)" -- \
  timeout 20 "$MODELVOL" --root "$ROOT" pull --tls-verify=false --authfile "$T/fifo.json" "$R/org/private:v1"
cp "$T/real.json" "$T/open.json"
chmod 666 "$T/open.json"
expect_fail 1 "credentials file '$T/open.json' is writable by others \(mode 0666\): make it 0600" \
  "a credentials file others can write" -- mvol pull --tls-verify=false --authfile "$T/open.json" "$R/org/private:v1"
run_ok "a 0600 credentials file works" -- mvol -v pull --tls-verify=false --authfile "$T/real.json" "$R/org/private:v1"
check "the password never appears at -v" -- bash -c '! grep -q "s3cret-Pa55\|$(printf "alice:s3cret-Pa55" | base64)" <<<"$1$2"' _ "$LAST_STDOUT" "$LAST_STDERR"

finish
