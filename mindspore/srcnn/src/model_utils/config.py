"""Configuration: a YAML file of plain values, every key overridable on the command line.

`config.yaml` holds two YAML documents: the values, then a help text per key. Each key becomes a
flag `--key=value` whose type is the type of its default (bool, int, float or str); booleans accept
True/False/true/false/1/0 only. `--config_path=FILE` selects another YAML file, which is checked
against config.yaml like the flags are (common.config: unknown, missing or mistyped keys are one
error line naming the key and the file). An unknown flag is an error naming it, never silently ignored.
"""
import argparse
import re
from pathlib import Path

from common.config import ConfigError, load_checked, read_yaml_documents

DEFAULT_CONFIG = Path(__file__).resolve().parents[2] / 'config.yaml'
_TRUE = {'true': True, '1': True, 'false': False, '0': False}


class Config:
    """Attribute access to the configuration values (`cfg.lr`), plus `to_dict()`."""

    def __init__(self, values, path):
        self.__dict__.update(values)
        self._path = str(path)

    def to_dict(self):
        """Return the values as a plain dict (without the config path)."""
        return {k: v for k, v in self.__dict__.items() if not k.startswith('_')}

    def __repr__(self):
        return f'Config({self._path}: {self.to_dict()})'


def read_yaml(path, schema_path=DEFAULT_CONFIG):
    """Read a config YAML and check it against the schema (config.yaml): returns (values, helps).

    Raises ConfigError naming the file and the key for an unknown or missing key, a value of the
    wrong type, or a value that is not a plain bool, number or string.
    """
    docs = load_checked(path, schema_path)
    values = docs[0]
    helps = docs[1] if len(docs) > 1 and isinstance(docs[1], dict) else {}
    if not helps and Path(path).resolve() != Path(schema_path).resolve():
        helps = read_yaml_documents(schema_path, 'schema')[1:2] or [{}]
        helps = helps[0] if isinstance(helps[0], dict) else {}
    for key, value in values.items():
        if not isinstance(value, (bool, int, float, str)):
            raise ConfigError(f'{path}: key {key!r} must be a bool, number or string, got {value!r}')
    return values, helps


def _parse_bool(key):
    def parse(text):
        value = _TRUE.get(str(text).strip().lower())
        if value is None:
            raise argparse.ArgumentTypeError(f'--{key} expects True or False, got {text!r}')
        return value
    return parse


def _typed(key, default):
    """The argparse `type` for a key, from the type of its default value."""
    if isinstance(default, bool):
        return _parse_bool(key)
    kind = type(default)

    def parse(text):
        try:
            return kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"--{key} expects {'an int' if kind is int else 'a ' + kind.__name__}, got {text!r}") from None
    return parse


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser that raises ConfigError instead of printing usage and exiting."""

    def error(self, message):
        message = re.sub(r'^argument (--\w+): (?=\1)', '', message)   # the type parsers name the flag
        raise ConfigError(re.sub(r'^argument (--\w+):', r'\1:', message))


def load_config(argv=None, description=None, default_path=DEFAULT_CONFIG):
    """Read the YAML named by `--config_path` (default: config.yaml) and apply `--key=value` flags.

    Args:
        argv (list[str] | None): Command line without the program name. Default: None (sys.argv[1:]).
        description (str | None): Text for `--help`. Default: None.
        default_path (Path): YAML used without `--config_path`. Default: the model's config.yaml.

    Returns:
        Config: The effective values.

    Raises:
        ConfigError: Missing/invalid YAML, an unknown flag (named) or a value of the wrong type.
    """
    pre = _Parser(add_help=False, allow_abbrev=False)
    pre.add_argument('--config_path', default=str(default_path))
    known, rest = pre.parse_known_args(argv)
    values, helps = read_yaml(known.config_path)

    parser = _Parser(description=description, allow_abbrev=False,
                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('--config_path', default=str(default_path), help='YAML file with the defaults')
    for key, default in values.items():
        parser.add_argument(f'--{key}', type=_typed(key, default), default=default,
                            metavar=type(default).__name__.upper(), help=str(helps.get(key, ' ')))
    args, unknown = parser.parse_known_args(rest)
    if unknown:
        flag = unknown[0].split('=', 1)[0]
        hint = 'not a key of' if flag.startswith('--') else 'unexpected argument; flags take the form --key=value, see'
        raise ConfigError(f'unknown option {flag!r}: {hint} {known.config_path}')
    out = vars(args)
    out.pop('config_path')
    return Config(out, known.config_path)
