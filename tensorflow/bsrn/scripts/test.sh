#!/bin/bash
# Super-resolve a folder of images with a checkpoint. Run from tensorflow/bsrn.
RESTORE_PATH=${RESTORE_PATH:-../temp/result}
python3 test_bsrn.py --model=bsrn --restore_path=${RESTORE_PATH} --scales=${SCALES:-4} \
  --input_path=${INPUT_PATH:-LR} --output_path=${OUTPUT_PATH:-SR} "$@"
