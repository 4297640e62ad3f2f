"""The command-line contract of every PyTorch entry point: one ``error: ...`` line and a non-zero exit.

Built on :mod:`common.cli` (the zoo's one implementation): ``Parser`` is its ``FlagParser`` showing
defaults in ``--help``; ``run_cli`` also counts a ``KeyError`` (e.g. a key missing from an LMDB or a
checkpoint) as bad input.
"""
import argparse

from common.cli import FlagParser, error_line, str2bool
from common.cli import EXPECTED_ERRORS as _EXPECTED
from common.cli import run_cli as _run_cli

__all__ = ['Parser', 'str2bool', 'error_line', 'run_cli']


class Parser(FlagParser):
    """ArgumentParser with one-line errors; ``--help`` is unchanged.

    Args:
        *args: As ``argparse.ArgumentParser``.
        **kwargs: As ``argparse.ArgumentParser``; ``formatter_class`` defaults to showing defaults.
    """

    def __init__(self, *args, **kwargs):
        kwargs.setdefault('formatter_class', argparse.ArgumentDefaultsHelpFormatter)
        super().__init__(*args, **kwargs)


def run_cli(main, argv=None):
    """Run ``main(argv)``; expected failures (ValueError, OSError, KeyError) print one ``error: ...``
    line and exit with status 2.

    Args:
        main (callable): The entry point, ``main(argv) -> None``.
        argv (list[str] | None): Arguments. Default: None (``sys.argv[1:]``).
    """
    _run_cli(main, argv, expected=_EXPECTED + (KeyError,))
