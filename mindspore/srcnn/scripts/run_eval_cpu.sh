#!/bin/bash
# Evaluate (on CPU; DEVICE_ID is accepted and ignored) a checkpoint on an HR image folder (e.g. Set5); log in ./eval/eval.log, result line printed.
# Same arguments and behaviour as run_eval_ascend.sh, with device_target=CPU.
TARGET=CPU SCRIPT_NAME=$(basename "$0") exec bash "$(dirname "$0")/run_eval_ascend.sh" "$@"
