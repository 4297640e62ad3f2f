#!/bin/bash
# Evaluate (on CPU; DEVICE_ID is accepted and ignored) a checkpoint on an HR image folder (e.g. Set5); result lines printed, log in ./eval/eval_<date>-<time>_<random>.log.
# Same arguments and behaviour as run_eval_ascend.sh, with device_target=CPU.
TARGET=CPU SCRIPT_NAME=$(basename "$0") exec bash "$(dirname "$0")/run_eval_ascend.sh" "$@"
