#!/bin/sh
#
# fuzz/run-fuzz.sh - one bounded libFuzzer run of a fuzz target (meson test
# suite fuzz).
#
# Usage: run-fuzz.sh FUZZER SEED_CORPUS_DIR WORK_DIR
#
# Runs FUZZER for IVM_FUZZ_SECONDS (default 60) seconds over a work corpus
# (WORK_DIR/corpus, kept between runs, so coverage accumulates) and the
# committed seeds (SEED_CORPUS_DIR, read only).  A crash, leak or failed
# check leaves its input as WORK_DIR/crash-* (or leak-*, timeout-*) and
# makes this script exit non-zero; replay it with `FUZZER FILE`.
set -eu

fuzzer=$1
seeds=$2
work=$3
seconds=${IVM_FUZZ_SECONDS:-60}

mkdir -p "$work/corpus"
exec "$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
	-max_len=512 -print_final_stats=1 -artifact_prefix="$work/" \
	"$work/corpus" "$seeds"
