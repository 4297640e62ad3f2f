# The interpreter of the zoo's shell scripts, sourced by every ModelZoo script (test/*.sh, scripts/*.sh):
#     source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../../../tools/zoo_python.sh"
# Sets and exports PYTHON: $PYTHON when the caller set it (PYTHON=/opt/py/bin/python bash test/...), else
# this repository's .venv/bin/python when it exists (make setup installs torch, tensorflow, mindspore and
# the zoo's packages there), else python3 from PATH. A relative PYTHON is made absolute, since the
# scripts change folder. ZOO_ROOT is the repository root.
ZOO_ROOT=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
if [ -z "${PYTHON}" ]; then
    if [ -x "${ZOO_ROOT}/.venv/bin/python" ]; then PYTHON=${ZOO_ROOT}/.venv/bin/python; else PYTHON=python3; fi
fi
case "${PYTHON}" in
    /*) ;;
    */*) PYTHON="$(cd "$(dirname "${PYTHON}")" && pwd)/$(basename "${PYTHON}")" ;;
esac
export PYTHON ZOO_ROOT
