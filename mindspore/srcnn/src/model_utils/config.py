"""Configuration: a YAML file of plain values, every key overridable on the command line.

`config.yaml` holds two YAML documents: the values, then a help text per key. Each key becomes a
flag `--key=value` whose type is the type of its default, parsed as every entry point of the zoo
parses its flags (common.cli): a bool takes True/False (any case), 1/0, yes/no, y/n, on/off; an int
also takes a whole number written as a float ('1e4'); a float takes any number. `--config_path=FILE`
selects another YAML file, whose values are read like flags: it is checked against config.yaml
(common.config: an unknown, missing or mistyped key is one error line naming the key and the file),
and a value that YAML leaves as text for a bool, int or float key (`lr: 1e-4`, `max_steps: 1e4`,
`resume: "yes"`) means what the same text means as a flag. An unknown flag is an error naming it,
never silently ignored.
"""
import argparse
import re
from pathlib import Path

from common.cli import int_flag, str2bool
from common.config import ConfigError, check_config, read_yaml_documents

DEFAULT_CONFIG = Path(__file__).resolve().parents[2] / 'config.yaml'


def _number(text):
    try:
        return float(text)
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(f'expected a number, got {text!r}') from None


def flag_type(default):
    """The parser of a key's flag text, chosen by the type of its default value.

    Args:
        default (bool | int | float | str): The key's value in config.yaml.

    Returns:
        callable: common.cli.str2bool, common.cli.int_flag, a float parser, or str; each raises
        argparse.ArgumentTypeError for text it refuses.
    """
    if isinstance(default, bool):
        return str2bool
    if isinstance(default, int):
        return int_flag
    if isinstance(default, float):
        return _number
    return str


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


def _read_like_flags(values, schema):
    """The file's values as their flags would give them: text for a bool, int or float key parsed as
    that flag's text, an int for a float key made a float.

    Text the flag would refuse is left as it is, for common.config to name the key and its type.
    """
    out = dict(values)
    for key, value in values.items():
        default = schema.get(key)
        if isinstance(value, str) and isinstance(default, (bool, int, float)):
            try:
                out[key] = flag_type(default)(value)
            except argparse.ArgumentTypeError:
                pass
        elif isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
            out[key] = float(value)
    return out


def read_yaml(path, schema_path=DEFAULT_CONFIG):
    """Read a config YAML and check it against the schema (config.yaml): returns (values, helps).

    Raises ConfigError naming the file and the key for an unknown or missing key, a value of the
    wrong type, or a value that is not a plain bool, number or string.
    """
    docs = read_yaml_documents(path)
    schema_docs = docs
    if Path(path).resolve() != Path(schema_path).resolve():
        schema_docs = read_yaml_documents(schema_path, 'schema')
        docs[0] = _read_like_flags(docs[0], schema_docs[0])
        check_config(docs[0], schema_docs[0], path)
    values = docs[0]
    helps = next((d for d in docs[1:2] + schema_docs[1:2] if isinstance(d, dict) and d), {})
    for key, value in values.items():
        if not isinstance(value, (bool, int, float, str)):
            raise ConfigError(f'{path}: key {key!r} must be a bool, number or string, got {value!r}')
    return values, helps


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser that raises ConfigError instead of printing usage and exiting."""

    def error(self, message):
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
        parser.add_argument(f'--{key}', type=flag_type(default), default=default,
                            metavar=type(default).__name__.upper(), help=str(helps.get(key, ' ')))
    args, unknown = parser.parse_known_args(rest)
    if unknown:
        flag = unknown[0].split('=', 1)[0]
        hint = 'not a key of' if flag.startswith('--') else 'unexpected argument; flags take the form --key=value, see'
        raise ConfigError(f'unknown option {flag!r}: {hint} {known.config_path}')
    out = vars(args)
    out.pop('config_path')
    return Config(out, known.config_path)
