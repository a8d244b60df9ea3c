#!/usr/bin/env bash
# CI: puts the JSONata test suite where `asl/tests/jsonata_suite.rs` reads it
# (asl/tests/data/jsonata-suite, not committed), from the jsonata-rs package on
# crates.io (see asl/tests/fetch-jsonata-suite.sh). With CI set, that test
# fails when the suite is missing.
set -euo pipefail
cd "$(dirname "$0")/../.."
sh asl/tests/fetch-jsonata-suite.sh --crate
