#!/bin/bash
# Evaluate an exported ONNX model with onnxruntime on CPU (DEVICE_ID ignored); PSNR line printed, log in ./eval_onnx_<date>-<time>_<random>.log.
# Same arguments and behaviour as run_onnx_eval_gpu.sh, with onnxruntime's CPU provider.
TARGET=CPU SCRIPT_NAME=$(basename "$0") exec bash "$(dirname "$0")/run_onnx_eval_gpu.sh" "$@"
