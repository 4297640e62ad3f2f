#!/bin/bash
# Environment of the ModelZoo test scripts (sourced by train_full_1p.sh and train_performance_1p.sh).
# On Ascend: the CANN toolkit's set_env.sh when it is installed, and the device id. Everywhere: the
# interpreter: $PYTHON, else this repository's .venv when it exists, else python3 (the repository's
# packages common and tfzoo are installed into it: make setup, or pip install -e <repository root>).
env_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")"; pwd)
repo_root=$(cd "${env_dir}/../../.."; pwd)

for set_env in /usr/local/Ascend/ascend-toolkit/set_env.sh /usr/local/Ascend/nnae/set_env.sh; do
    if [ -f "${set_env}" ]; then
        source "${set_env}"
        break
    fi
done
export ASCEND_DEVICE_ID=${ASCEND_DEVICE_ID:-0}
export JOB_ID=${JOB_ID:-10087}
if [ -z "${PYTHON}" ]; then
    if [ -x "${repo_root}/.venv/bin/python" ]; then PYTHON=${repo_root}/.venv/bin/python; else PYTHON=python3; fi
fi
export PYTHON
