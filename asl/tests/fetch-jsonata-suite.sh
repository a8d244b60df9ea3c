#!/bin/sh
# Fetches the upstream JSONata test suite (jsonata-js, MIT licence,
# https://github.com/jsonata-js/jsonata, test/test-suite) into
# asl/tests/data/jsonata-suite, where `cargo test -p stepwise-asl --test jsonata_suite`
# finds it. Nothing fetched is committed (see data/.gitignore).
#
# usage: fetch-jsonata-suite.sh [PATH-TO-A-JSONATA-JS-CHECKOUT]
#   Without a path, clones jsonata-js at the tag below (needs network access).
set -eu
TAG=v2.2.2
here=$(cd "$(dirname "$0")" && pwd)
dest="$here/data/jsonata-suite"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
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
echo "JSONata test suite in $dest: $(find "$dest/groups" -name '*.json' | wc -l) case files"
