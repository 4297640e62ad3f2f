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


@pytest.fixture(scope='session')
def sample_data(tmp_path_factory):
    """The embedded sample datasets (`common.sample_data`), built once per session in a temp folder.

    Returns the root folder: DIV2K/, benchmark/SampleTest/, FiveK/FiveK_480p/ and manifest.json
    (scales 2, 3, 4). Treat it as read-only: every test of the session shares it.
    """
    from common.sample_data import build_sample_data
    root = tmp_path_factory.mktemp('sample_data') / 'sample'
    build_sample_data(root)
    return root
