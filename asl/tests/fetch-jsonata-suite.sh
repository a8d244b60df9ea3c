#!/bin/sh
# Fetches the upstream JSONata test suite (jsonata-js, MIT licence,
# https://github.com/jsonata-js/jsonata, test/test-suite) into
# asl/tests/data/jsonata-suite, where `cargo test -p stepwise-asl --test jsonata_suite`
# finds it. Nothing fetched is committed (see data/.gitignore).
#
# usage: fetch-jsonata-suite.sh [PATH-TO-A-JSONATA-JS-CHECKOUT | --crate]
#   Without an argument, clones jsonata-js at the tag below (needs access to its git host).
#   --crate: takes the copy of the suite that the jsonata-rs crate ships in its
#   package (tests/testsuite: the jsonata-js suite as that project forked it,
#   its groups and the cases it skips), downloaded from crates.io by cargo. CI
#   uses this (scripts/ci/jsonata-suite.sh): crates.io is reachable there.
#   The test knows which suite it runs from the SOURCE file written here.
set -eu
TAG=v2.2.2
CRATE=jsonata-rs
CRATE_VERSION=0.3.4
here=$(cd "$(dirname "$0")" && pwd)
dest="$here/data/jsonata-suite"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ "${1:-}" = "--crate" ]; then
    mkdir -p "$tmp/probe/src"
    : >"$tmp/probe/src/lib.rs"
    cat >"$tmp/probe/Cargo.toml" <<TOML
[package]
name = "jsonata-suite-probe"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
$CRATE = "=$CRATE_VERSION"
TOML
    cargo fetch --quiet --manifest-path "$tmp/probe/Cargo.toml"
    pkg=$(find "${CARGO_HOME:-$HOME/.cargo}/registry/src" -mindepth 2 -maxdepth 2 -type d \
        -name "$CRATE-$CRATE_VERSION" | head -n 1)
    if [ -z "$pkg" ] || [ ! -d "$pkg/tests/testsuite/groups" ]; then
        echo "the $CRATE $CRATE_VERSION package has no tests/testsuite" >&2
        exit 1
    fi
    rm -rf "$dest"
    mkdir -p "$dest/groups"
    cp -R "$pkg/tests/testsuite/datasets" "$dest/datasets"
    cp -R "$pkg/tests/testsuite/groups/." "$dest/groups/"
    # The cases that project skips are cases of the suite too. A file in both
    # folders holds different cases in each: the skipped ones get a name of their own.
    (cd "$pkg/tests/testsuite/skip" && find . -type f) | while read -r f; do
        to="$dest/groups/$f"
        mkdir -p "$(dirname "$to")"
        if [ -e "$to" ]; then
            to="${to%.json}.skipped.json"
        fi
        cp "$pkg/tests/testsuite/skip/$f" "$to"
    done
    cp "$pkg/LICENSE-APACHE" "$dest/LICENSE-APACHE"
    cp "$pkg/tests/testsuite/TESTSUITE.md" "$dest/TESTSUITE.md"
    printf '%s\n' "$CRATE $CRATE_VERSION tests/testsuite (groups and skip): the jsonata-js test suite (MIT) as forked by that crate (Apache-2.0)" >"$dest/SOURCE"
    echo "JSONata test suite in $dest: $(find "$dest/groups" -name '*.json' | wc -l) case files"
    exit 0
fi
if [ $# -ge 1 ]; then
    src=$1
    if [ -d "$src/.git" ] || git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
        # A repository (possibly bare): take the suite from its HEAD.
        git -C "$src" archive HEAD test/test-suite LICENSE | tar -x -C "$tmp"
        src="$tmp"
    fi
else
    git clone --quiet --depth 1 --branch "$TAG" https://github.com/jsonata-js/jsonata "$tmp/jsonata"
    src="$tmp/jsonata"
fi
rm -rf "$dest"
mkdir -p "$dest"
cp -R "$src/test/test-suite/." "$dest/"
cp "$src/LICENSE" "$dest/LICENSE" 2>/dev/null || true
echo "jsonata-js test/test-suite" >"$dest/SOURCE"
echo "JSONata test suite in $dest: $(find "$dest/groups" -name '*.json' | wc -l) case files"
