#!/usr/bin/env bash
# Offline checks of the Nix side of Keepsake: everything that can be verified
# without nixpkgs (which cannot be fetched in CI). Needs only `nix-instantiate`
# (Debian's nix-bin is enough) and python3.
#
#   tests/nix/check.sh
#
# What it checks:
#   1. every .nix file in the repo parses (nix-instantiate --parse; this also
#      catches duplicate attributes);
#   2. the pure helper nix/lib.nix passes its unit tests, evaluated strictly
#      in restricted mode (it may read nothing outside the repo), also with a
#      warning forced onto stderr (only stdout is ever parsed); 2b. the Rust
#      package definitions pass theirs, with stand-ins for nixpkgs;
#   3. hosts/example/options.json evaluates to the expected keepsake.* values,
#      and malformed options.json files fail with the expected message;
#   4. every mkOption in modules/ has a description and a type;
#   5. flake.lock is valid JSON, pins nixpkgs to a full rev with a narHash,
#      and matches flake.nix's inputs (nix flake metadata --offline);
#   6. no build file still uses a placeholder hash, and the npm and Cargo
#      lock files are fetchable without extra hashes;
#   7. shell snippets embedded in modules pass `bash -n` (and shellcheck,
#      when installed; writeShellApplication runs it at build time anyway).
#
# What it cannot check (needs nixpkgs): module evaluation against real option
# types, package builds, the VM test. See docs/NIX.md.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

failures=0
pass() { printf '  ok    %s\n' "$1"; }
fail() {
    printf '  FAIL  %s\n' "$1" >&2
    if [ -n "${2:-}" ]; then printf '%s\n' "$2" | sed 's/^/        /' >&2; fi
    failures=$((failures + 1))
}
section() { printf '\n== %s\n' "$1"; }

for tool in nix-instantiate python3; do
    command -v "$tool" >/dev/null || { echo "check.sh: $tool not found (apt-get install -y nix-bin python3)" >&2; exit 2; }
done

NIX_EVAL=(nix-instantiate --eval --strict --json --option restrict-eval true -I "keepsake=$ROOT")

# split <out-var> <err-var> CMD...: runs CMD with its stdout and stderr in two variables and
# returns its status. Tools warn on stderr (Debian's nix-bin: "the group 'nixbld' ... does not
# exist" on a machine without that group), so only stdout is ever parsed; stderr is shown on failure.
split() {
    local __out_var=$1 __err_var=$2 __errf __o __rc=0
    shift 2
    __errf=$(mktemp)
    __o=$("$@" 2>"$__errf") || __rc=$?
    printf -v "$__out_var" '%s' "$__o"
    printf -v "$__err_var" '%s' "$(cat "$__errf")"
    rm -f "$__errf"
    return "$__rc"
}
both() { # <stdout> <stderr>: both streams, for a failure message
    printf '%s' "$1"
    if [ -n "$2" ]; then printf '\n[stderr]\n%s' "$2"; fi
}

# ---------------------------------------------------------------- 1. parse
section "1. every .nix file parses"
mapfile -t nix_files < <(find . \( -name node_modules -o -name target -o -name .git -o -name result -o -path ./tests/.lab \) -prune -o -type f -name '*.nix' -print | sort)
if [ "${#nix_files[@]}" -eq 0 ]; then
    fail "no .nix files found under $ROOT"
fi
for f in "${nix_files[@]}"; do
    if err=$(nix-instantiate --parse "$f" 2>&1 >/dev/null); then
        pass "parse $f"
    else
        fail "parse $f" "$err"
    fi
done

# ---------------------------------------------------------------- 2. lib unit tests
section "2. nix/lib.nix unit tests (strict, restricted eval)"
# lib_results <stdout of lib-test.nix>: "<total>" when every test is true, else the failing names.
lib_results() {
    printf '%s' "$1" | python3 -c '
import json, sys
r = json.load(sys.stdin)
bad = [k for k, v in sorted(r.items()) if v is not True]
print("\n".join(bad) if bad else len(r))
sys.exit(1 if bad else 0)'
}
if split out err "${NIX_EVAL[@]}" tests/nix/lib-test.nix; then
    if res=$(lib_results "$out" 2>&1); then pass "$res lib tests"; else fail "lib tests failed" "$res"$'\n'"$(both "" "$err")"; fi
else
    fail "tests/nix/lib-test.nix does not evaluate" "$(both "$out" "$err")"
fi
# The same evaluation with a warning forced onto stderr (a build-users-group that does not
# exist, as on a fresh Debian machine without the nixbld group): a warning must not break parsing.
if split out err "${NIX_EVAL[@]}" --option build-users-group keepsake-check-no-such-group tests/nix/lib-test.nix; then
    if [ -z "$err" ]; then
        fail "nix-instantiate printed no warning for a missing build-users-group; this check proves nothing (nix changed?)"
    elif res=$(lib_results "$out" 2>&1); then
        pass "lib tests still parse with a warning on stderr ($(printf '%s' "$err" | head -n1))"
    else
        fail "lib tests with a warning on stderr" "$res"$'\n'"$(both "" "$err")"
    fi
else
    fail "tests/nix/lib-test.nix does not evaluate with a missing build-users-group" "$(both "$out" "$err")"
fi

section "2b. Rust package definitions (stand-ins for nixpkgs)"
if split out err "${NIX_EVAL[@]}" tests/nix/packages-test.nix; then
    if res=$(lib_results "$out" 2>&1); then pass "$res package tests"; else fail "package tests failed" "$res"$'\n'"$(both "" "$err")"; fi
else
    fail "tests/nix/packages-test.nix does not evaluate" "$(both "$out" "$err")"
fi

# ---------------------------------------------------------------- 3. options.json
section "3. options.json -> keepsake.* values"
expr='let l = import <keepsake/nix/lib.nix>; in l.toKeepsakeConfig (l.readSettings <keepsake/hosts/example/options.json>)'
if split out err "${NIX_EVAL[@]}" --expr "$expr"; then
    expected='{"caddy":{"dashboardHostName":"keepsake.local"},"docker":{"storageDriver":"overlay2"},"hostName":"immich","sanoid":{"datasets":["tank/immich"],"retention":{"daily":30,"hourly":36,"monthly":12,"yearly":2}},"updates":{"allowReboot":true,"dates":"04:40","enable":true,"rebootWindow":{"lower":"03:00","upper":"05:00"}}}'
    if python3 -c 'import json,sys; sys.exit(0 if json.loads(sys.argv[1]) == json.loads(sys.argv[2]) else 1)' "$out" "$expected"; then
        pass "hosts/example/options.json evaluates to the expected settings"
    else
        fail "hosts/example/options.json: unexpected settings" "got:      $(both "$out" "$err")"$'\n'"expected: $expected"
    fi
else
    fail "hosts/example/options.json does not evaluate" "$(both "$out" "$err")"
fi

expect_error() { # <fixture> <message fragment>
    local fixture="$1" want="$2" out err
    if split out err "${NIX_EVAL[@]}" --expr "(import <keepsake/nix/lib.nix>).readSettings <keepsake/$fixture>"; then
        fail "$fixture was accepted; expected an error containing: $want" "$(both "$out" "$err")"
    elif printf '%s' "$err" | grep -qF -- "$want"; then
        pass "$fixture rejected: $want"
    else
        fail "$fixture failed with the wrong message (wanted: $want)" "$(both "$out" "$err")"
    fi
}
expect_error tests/nix/fixtures/unknown-key.json "keepsake: options.json: updates: unknown key(s) rebootAt"
expect_error tests/nix/fixtures/bad-hostid.json "keepsake: options.json: hostId: must be 8 lowercase hex digits"

for j in hosts/example/options.json flake.lock; do
    if err=$(python3 -m json.tool "$j" 2>&1 >/dev/null); then pass "valid JSON: $j"; else fail "invalid JSON: $j" "$err"; fi
done

# ---------------------------------------------------------------- 4. option descriptions
section "4. every mkOption in modules/ has a description and a type"
if split out err python3 tests/nix/check-options.py "$ROOT"; then
    pass "$(printf '%s' "$out" | tail -n1)"
else
    fail "mkOption declarations without description/type" "$(both "$out" "$err")"
fi

# ---------------------------------------------------------------- 5. flake.lock
section "5. flake.lock pins nixpkgs and matches flake.nix"
if out=$(python3 - flake.lock <<'PY' 2>&1
import json, re, sys
lock = json.load(open(sys.argv[1]))
assert lock.get("version") == 7, f"lock version {lock.get('version')}, expected 7"
root = lock["nodes"][lock["root"]]
for name, node_name in root.get("inputs", {}).items():
    node = lock["nodes"][node_name]
    locked = node.get("locked", {})
    assert re.fullmatch(r"[0-9a-f]{40}", locked.get("rev", "")), f"{name}: rev is not a full 40-hex commit"
    assert re.fullmatch(r"sha256-[A-Za-z0-9+/]{43}=", locked.get("narHash", "")), f"{name}: missing or malformed narHash"
    assert isinstance(locked.get("lastModified"), int), f"{name}: missing lastModified"
    print(f"{name}: {locked.get('owner')}/{locked.get('repo')}@{locked['rev']} ({node['original'].get('ref')})")
assert "nixpkgs" in root.get("inputs", {}), "no nixpkgs input"
PY
); then
    pass "$out"
else
    fail "flake.lock content" "$out"
fi

if nix --version >/dev/null 2>&1; then
    # A copy holding only flake.nix/flake.lock: a `path:` flake of the whole
    # repo would copy target/ and node_modules/ into the store, and a git
    # flake would ignore untracked files.
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    cp flake.nix flake.lock "$tmp/"
    if split out err nix --extra-experimental-features 'nix-command flakes' flake metadata --offline --no-update-lock-file --json "path:$tmp"; then
        if rev=$(printf '%s' "$out" | python3 -c 'import json,sys; m=json.load(sys.stdin); print(m["locks"]["nodes"]["nixpkgs"]["locked"]["rev"])' 2>&1); then
            pass "nix flake metadata accepts the lock without re-locking (nixpkgs $rev)"
        else
            fail "nix flake metadata printed no nixpkgs lock" "$rev"$'\n'"$(both "$out" "$err")"
        fi
    else
        fail "flake.lock does not match flake.nix inputs (or nix flake metadata failed)" "$(both "$out" "$err")"
    fi
else
    fail "the nix command is missing; cannot check flake.lock against flake.nix"
fi

# ---------------------------------------------------------------- 6. placeholders
section "6. no build uses a placeholder hash"
# nix/hashes.nix may hold placeholders; it is an error only if a build reads them.
# Comment lines are ignored: docs may name the placeholder, builds may not.
code_grep() { # <regex> <paths...>: files with a non-comment line matching regex
    local re="$1"; shift
    grep -rnE "$re" --include='*.nix' "$@" 2>/dev/null | grep -vE '^[^:]+:[0-9]+:[[:space:]]*#' | cut -d: -f1 | sort -u | grep -v '^nix/hashes.nix$' || true
}
placeholder_users=$(code_grep 'PLACEHOLDER|lib\.fakeHash|fakeSha256|sha256-A{43}=' nix modules flake.nix hosts)
hash_users=$(code_grep 'frontendNpmDepsHash' nix modules flake.nix)
if [ -n "$placeholder_users" ]; then
    fail "placeholder hash used directly" "$placeholder_users"
elif [ -n "$hash_users" ] && grep -q PLACEHOLDER nix/hashes.nix; then
    fail "a build reads the placeholder frontendNpmDepsHash; refresh it (docs/NIX.md)" "$hash_users"
else
    pass "no build reads a placeholder hash (frontend uses importNpmLock)"
fi

section "6b. lock files the Nix builds consume offline-fetchably"
# importNpmLock fetches each npm package by its `resolved` URL and `integrity`;
# cargoLock.lockFile needs outputHashes for git sources. Catch both here
# rather than in a build on someone else's machine.
if [ -f frontend/package-lock.json ]; then
    # Entries may lack `resolved` (nix/lib.nix npmFillResolved adds it), but
    # each must have an integrity hash, and after filling each must have a URL.
    fill_expr='let l = import <keepsake/nix/lib.nix>; f = l.npmFillResolved "https://registry.npmjs.org" (builtins.fromJSON (builtins.readFile <keepsake/frontend/package-lock.json>)); in f'
    filled="" filled_err=""
    # shellcheck disable=SC2016 # the single-quoted text is Python, not shell
    if split filled filled_err "${NIX_EVAL[@]}" --expr "$fill_expr" && out=$(printf '%s' "$filled" | python3 -c '
import json, sys
lock = json.load(sys.stdin)
pk = lock.get("packages", {})
if lock.get("lockfileVersion", 0) < 2:
    sys.exit("lockfileVersion < 2: importNpmLock needs the `packages` section (npm >= 7)")
entries = {k: v for k, v in pk.items() if k and not v.get("link") and not v.get("inBundle")}
bad = [k for k, v in entries.items() if not (v.get("integrity") and v.get("resolved"))]
if bad:
    sys.exit("entries importNpmLock cannot fetch (no integrity, or no URL after filling): " + ", ".join(bad[:10]))
filled = sum(1 for v in entries.values() if v["resolved"].startswith("https://registry.npmjs.org/"))
print(f"{len(entries)} npm packages fetchable by integrity ({filled} registry URLs)")
' 2>&1); then
        pass "frontend/package-lock.json: $out"
    else
        fail "frontend/package-lock.json" "${out:-$(both "$filled" "$filled_err")}"
    fi
else
    fail "frontend/package-lock.json is missing; nix/frontend.nix needs it"
fi
if [ -f Cargo.lock ]; then
    if grep -q '^source = "git+' Cargo.lock; then
        fail "Cargo.lock has git dependencies; add cargoLock.outputHashes in nix/rust-package.nix" "$(grep '^source = "git+' Cargo.lock | sort -u)"
    else
        pass "Cargo.lock: registry-only sources ($(grep -c '^name = ' Cargo.lock) packages), no outputHashes needed"
    fi
else
    fail "Cargo.lock is missing; the Rust packages use cargoLock.lockFile = ./Cargo.lock"
fi

# ---------------------------------------------------------------- 7. embedded shell
section "7. shell embedded in modules"
shell_out=$(python3 - <<'PY'
import pathlib, re, subprocess, shutil, sys, tempfile
status = 0
for path in sorted(pathlib.Path("modules").rglob("*.nix")):
    src = path.read_text()
    for m in re.finditer(r"writeShellApplication\s*\{.*?\btext\s*=\s*''(.*?)\n\s*'';", src, re.S):
        # Undo Nix indented-string escapes used in shell: ''$ -> $, ''' -> ''
        body = m.group(1).replace("''$", "$").replace("'''", "''")
        if "${" in body:
            print(f"{path}: embedded script interpolates Nix; cannot check it statically")
            continue
        script = "#!/usr/bin/env bash\nset -o errexit -o nounset -o pipefail\n" + body + "\n"
        with tempfile.NamedTemporaryFile("w", suffix=".sh", delete=False) as t:
            t.write(script)
        r = subprocess.run(["bash", "-n", t.name], capture_output=True, text=True)
        line = src.count("\n", 0, m.start()) + 1
        if r.returncode:
            print(f"FAIL {path}:{line}: bash -n\n{r.stderr}"); status = 1; continue
        if shutil.which("shellcheck"):
            r = subprocess.run(["shellcheck", "-s", "bash", t.name], capture_output=True, text=True)
            if r.returncode:
                print(f"FAIL {path}:{line}: shellcheck\n{r.stdout}"); status = 1; continue
            print(f"{path}:{line}: bash -n and shellcheck clean")
        else:
            print(f"{path}:{line}: bash -n clean (shellcheck not installed)")
sys.exit(status)
PY
) && shell_rc=0 || shell_rc=$?
if [ "$shell_rc" -eq 0 ]; then
    while IFS= read -r l; do [ -n "$l" ] && pass "$l"; done <<<"$shell_out"
else
    fail "embedded shell scripts" "$shell_out"
fi

# ---------------------------------------------------------------- summary
echo
if [ "$failures" -ne 0 ]; then
    echo "check.sh: $failures check(s) FAILED" >&2
    exit 1
fi
# Not run here, each for the same reason: nixpkgs cannot be fetched on these machines (no internet),
# and all three need it. They run where Nix has nixpkgs (docs/NIX.md):
#   - module evaluation against nixpkgs' real option types (nixos-rebuild dry-build of hosts/example);
#   - the package builds (nix build .#keepsake-agent etc.);
#   - the NixOS VM test (tests/nix/vm.nix, also needs KVM).
echo "check.sh: all offline Nix checks passed (module evaluation, package builds and the VM test need nixpkgs: see docs/NIX.md)"
