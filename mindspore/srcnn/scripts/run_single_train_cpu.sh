#!/bin/bash
# Single-device SRCNN training on CPU (DEVICE_ID is accepted and ignored), in the background; log in OUTPUT_PATH/train.log.
# Same arguments and behaviour as run_single_train_ascend.sh, with device_target=CPU.
TARGET=CPU SCRIPT_NAME=$(basename "$0") exec bash "$(dirname "$0")/run_single_train_ascend.sh" "$@"
