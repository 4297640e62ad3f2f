"""Where the repository, its caches and the shared benchmark data live."""
import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DATASETS_DIR = REPO_ROOT / 'datasets'          # generated data (git-ignored)
SAMPLE_DATA_DIR = DATASETS_DIR / 'sample'      # `make data` / `python -m common.sample_data`
RESULTS_DIR = REPO_ROOT / 'results'            # committed result records


def shared_data_dir():
    """Return the folder with Set5 and the MATLAB golden files, or None where it is absent.

    `SR_SHARED_DATA` overrides the default `<repo>/../shared/data`.
    """
    env = os.environ.get('SR_SHARED_DATA')
    path = Path(env) if env else REPO_ROOT.parent / 'shared' / 'data'
    return path if path.is_dir() else None


def set5_dir():
    """Return `<shared>/Set5` (layout: HR/x{s}, LR_bicubic/x{s}, original/) or None."""
    root = shared_data_dir()
    if root is None or not (root / 'Set5' / 'HR').is_dir():
        return None
    return root / 'Set5'
