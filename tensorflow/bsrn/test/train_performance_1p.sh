#!/bin/bash
# Ascend ModelZoo performance run: the full script's training with fewer steps (1000 by default), no validation.
BSRN_PERF_RUN=1 exec bash "$(cd "$(dirname "$0")"; pwd)/train_full_1p.sh" "$@"
