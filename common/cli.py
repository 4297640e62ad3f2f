"""The command-line contract of entry scripts: strict flag types, and one ``error: ...`` line for bad input.

Reference scripts of the zoo parse booleans with ``v.lower() in ('true')`` (a substring test: 'r', 'ue'
and '' are True, 'Ture' is False) and declare int flags with float defaults such as ``1 * 1e6``, which
argparse's ``int`` refuses when a user passes ``--max_step 1e6``. :func:`str2bool` and :func:`int_flag`
accept the values those scripts are run with and reject everything else; :class:`FlagParser` and
:func:`run_cli` turn a bad flag or a bad input into one line on stderr and exit code 2.
"""
import argparse
import sys

__all__ = ['str2bool', 'int_flag', 'FlagParser', 'error_line', 'run_cli', 'EXPECTED_ERRORS']

_TRUE = ('true', '1', 'yes', 'y', 'on')
_FALSE = ('false', '0', 'no', 'n', 'off')
EXPECTED_ERRORS = (ValueError, OSError)


def str2bool(value):
    """Parse a boolean flag value: True/False (any case), 1/0, yes/no, y/n, on/off.

    Args:
        value (str | bool): The flag's text.

    Returns:
        bool: The value.

    Raises:
        argparse.ArgumentTypeError: Anything else (argparse prints it as a usage error).
    """
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise argparse.ArgumentTypeError(f"expected True or False, got '{value}'")


def int_flag(value):
    """Parse an integer flag that may be written as a float literal, e.g. '1e6' or '2e5'.

    Args:
        value (str | int): The flag's text.

    Returns:
        int: The value.

    Raises:
        argparse.ArgumentTypeError: Not a number, or not a whole number ('1.5', '1e-3').
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = str(value).strip()
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got '{value}'") from None
    if not number.is_integer():
        raise argparse.ArgumentTypeError(f"expected a whole number, got '{value}'")
    return int(number)


class FlagParser(argparse.ArgumentParser):
    """argparse with one ``error: ...`` line (no usage block) and exit code 2 for a bad flag.

    Prefix matching is off by default (``allow_abbrev=False``): ``--scale`` is not taken for
    ``--scales``, nor ``--input_imag`` for ``--input_image``; a misspelt flag is an error.
    """

    def __init__(self, *args, allow_abbrev=False, **kwargs):
        super().__init__(*args, allow_abbrev=allow_abbrev, **kwargs)

    def error(self, message):
        print(f'error: {message}', file=sys.stderr, flush=True)
        sys.exit(2)


def error_line(err):
    """The text after ``error: `` for an expected failure: a system OSError as ``<file>: <reason>`` (or
    ``<file> -> <file2>: <reason>`` when it names two, as a failed rename does), else the first line of
    the message."""
    if isinstance(err, OSError) and err.strerror and err.filename is not None:
        target = f'{err.filename} -> {err.filename2}' if err.filename2 is not None else f'{err.filename}'
        return f'{target}: {err.strerror}'
    text = str(err).strip()
    if isinstance(err, KeyError) and text[:1] in ('"', "'"):
        text = text[1:-1]                      # KeyError's str() quotes its message
    return text.splitlines()[0] if text else type(err).__name__


def run_cli(main, argv=None, expected=EXPECTED_ERRORS):
    """Run ``main(argv)``; an expected failure prints one ``error: ...`` line to stderr and exits 2.

    Expected failures are bad input and bad flags: ValueError (including ``common`` errors such as
    ImageError, RunError and ConfigError) and OSError (missing, unreadable or unwritable files).
    Anything else is a bug and keeps its traceback.

    Args:
        main (callable): ``main(argv)``.
        argv (list[str] | None): Arguments. Default: None (``sys.argv[1:]``).
        expected (tuple[type]): The exception types that are bad input. Default: ``EXPECTED_ERRORS``.
    """
    try:
        return main(argv)
    except expected as err:
        print(f'error: {error_line(err)}', file=sys.stderr, flush=True)
        sys.exit(2)
    except KeyboardInterrupt:
        print('error: interrupted', file=sys.stderr, flush=True)
        sys.exit(130)
