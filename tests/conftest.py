"""Shared fixtures: the real Set5/MATLAB golden data and one small sample dataset per session."""
import os

import pytest

from common import paths


@pytest.fixture(scope='session')
def shared_data():
    """`../shared/data` (Set5, MATLAB imresize goldens). Skips where absent, fails in CI."""
    root = paths.shared_data_dir()
    if root is None:
        if os.environ.get('SR_REQUIRE_SHARED_DATA') == '1':
            pytest.fail('SR_REQUIRE_SHARED_DATA=1 but ../shared/data (or $SR_SHARED_DATA) is missing')
        pytest.skip('shared benchmark data not found: set SR_SHARED_DATA to the folder holding Set5/')
    return root
