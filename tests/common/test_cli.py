"""common.cli: strict flag types and the one-line error exit."""
import argparse

import pytest

from common import cli


def test_str2bool_takes_the_usual_spellings_and_nothing_else():
    assert [cli.str2bool(v) for v in ('True', 'false', '1', 'NO', 'on', True)] == [True, False, True, False, True, True]
    for bad in ('Ture', 'r', '', 'tru'):          # a substring test ('x' in 'true') takes 'r' and '' as True
        with pytest.raises(argparse.ArgumentTypeError, match='expected True or False'):
            cli.str2bool(bad)


def test_int_flag_takes_float_literals_of_whole_numbers():
    assert [cli.int_flag(v) for v in ('1e6', '2e5', '40000', '4.0e4', 7)] == [1000000, 200000, 40000, 40000, 7]
    for bad in ('1.5', '1e-3', 'ten'):
        with pytest.raises(argparse.ArgumentTypeError):
            cli.int_flag(bad)


def test_flag_parser_errors_are_one_line(capsys):
    parser = cli.FlagParser()
    parser.add_argument('--n', type=cli.int_flag)
    with pytest.raises(SystemExit) as info:
        parser.parse_args(['--n', '1.5'])
    assert info.value.code == 2
    assert capsys.readouterr().err == "error: argument --n: expected a whole number, got '1.5'\n"


def test_run_cli_turns_expected_failures_into_one_line(capsys, tmp_path):
    def missing(argv):
        open(tmp_path / 'nope', encoding='utf-8')

    def bad(argv):
        raise ValueError('--x=3: must be even\nmore detail')

    for main, line in ((missing, f"error: {tmp_path / 'nope'}: No such file or directory"),
                       (bad, 'error: --x=3: must be even')):
        with pytest.raises(SystemExit) as info:
            cli.run_cli(main, [])
        assert info.value.code == 2 and capsys.readouterr().err == line + '\n'
    assert cli.run_cli(lambda argv: 5, []) == 5
    with pytest.raises(KeyError):                 # a bug keeps its traceback
        cli.run_cli(lambda argv: {}['k'], [])


def test_error_line_names_both_files_of_a_failed_rename(tmp_path):
    try:
        (tmp_path / 'missing').rename(tmp_path / 'there')
    except OSError as err:
        line = cli.error_line(err)
    assert line == f"{tmp_path / 'missing'} -> {tmp_path / 'there'}: No such file or directory"
    assert cli.error_line(PermissionError(13, 'Permission denied', '/data/x.bin')) == '/data/x.bin: Permission denied'
    assert cli.error_line(ValueError('')) == 'ValueError'


def test_run_cli_passes_argv_and_exits_130_on_interrupt(capsys):
    assert cli.run_cli(lambda argv: argv, ['--a=1']) == ['--a=1']

    def interrupted(argv):
        raise KeyboardInterrupt
    with pytest.raises(SystemExit) as info:
        cli.run_cli(interrupted, [])
    assert info.value.code == 130 and capsys.readouterr().err == 'error: interrupted\n'


def test_flag_parser_refuses_abbreviated_flags(capsys):
    parser = cli.FlagParser()
    parser.add_argument('--scales')
    parser.add_argument('--input_image')
    for argv, flag in ((['--scale', '2'], '--scale'), (['--input_imag', 'a.png'], '--input_imag')):
        with pytest.raises(SystemExit) as info:
            parser.parse_args(argv)
        assert info.value.code == 2
        err = capsys.readouterr().err
        assert err.count('\n') == 1 and err.startswith('error: unrecognized arguments: ') and flag in err
    assert parser.parse_args(['--scales', '2']).scales == '2'
    assert cli.FlagParser(allow_abbrev=True).allow_abbrev        # still available on request
