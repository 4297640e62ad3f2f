#!/bin/bash
# Environment of the ModelZoo test scripts (sourced by train_full_1p.sh and train_performance_1p.sh).
# On Ascend: the CANN toolkit's set_env.sh when it is installed, and the device id. Everywhere: the
# interpreter (tools/zoo_python.sh): $PYTHON, else this repository's .venv when it exists, else python3
# (the repository's packages common and tfzoo are installed into it: make setup, or pip install -e <root>).

for set_env in /usr/local/Ascend/ascend-toolkit/set_env.sh /usr/local/Ascend/nnae/set_env.sh; do
    if [ -f "${set_env}" ]; then
        source "${set_env}"
        break
    fi
done
export ASCEND_DEVICE_ID=${ASCEND_DEVICE_ID:-0}
export JOB_ID=${JOB_ID:-10087}
source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../../../tools/zoo_python.sh"
