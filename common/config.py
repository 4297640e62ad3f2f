"""Configuration files checked like flags: a YAML file is valid only if it matches its schema.

A model's schema is its default configuration file (e.g. ``mindspore/srcnn/config.yaml``): the
keys it holds and the types of their default values. Any other YAML file given to that model (with
``--config_path``, or as an options file) must hold exactly those keys, each with a value of the
default's type; nested mappings are checked key by key. A failure is a :class:`ConfigError` with
one line naming the file, the key and what was expected::

    bad.yaml: unknown key 'learnig_rate' (did you mean 'learning_rate'?)
    bad.yaml: missing key 'epoch_size' (expected an int, e.g. 20)
    bad.yaml: key 'epoch_size' must be an int, got 2.5

Type rules: a bool default takes only a bool (YAML ``true``/``false``/``True``/``False``); an int
default takes an int (not a bool); a float default takes a float or an int; a str default takes a
str; a list default takes a list (whose items must match the default's items when those share one
type); a mapping default takes a mapping checked recursively; a null (``~``) default takes anything.
"""
import difflib
from pathlib import Path

import yaml

__all__ = ['ConfigError', 'read_yaml_documents', 'check_config', 'describe_type', 'load_checked']


class ConfigError(ValueError):
    """A bad configuration file, key or flag; the message names the file or the key."""


def read_yaml_documents(path, flag='--config_path'):
    """Read a YAML file that holds one or more documents, the first a mapping.

    Args:
        path (str | Path): The file.
        flag (str): How the file was given, for the error messages. Default: '--config_path'.

    Returns:
        list[dict]: The non-empty documents (at least one, the first a mapping).

    Raises:
        ConfigError: Missing or unreadable file, invalid YAML, or a first document that is not a mapping.
    """
    path = Path(path)
    if not path.is_file():
        what = 'is a folder' if path.is_dir() else 'not found'
        raise ConfigError(f'{flag}={path}: config file {what}')
    try:
        docs = [d for d in yaml.safe_load_all(path.read_text(encoding='utf-8')) if d is not None]
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        reason = ' '.join(str(err).split())
        raise ConfigError(f'{path}: not valid YAML ({reason})') from None
    except OSError as err:
        raise ConfigError(f'{flag}={path}: cannot read ({err.strerror or err})') from None
    if not docs or not isinstance(docs[0], dict):
        raise ConfigError(f'{path}: expected a mapping of keys to values')
    return docs


def describe_type(default):
    """'a bool', 'an int', 'a float', 'a str', 'a list', 'a mapping' or 'any value' for a default."""
    if default is None:
        return 'any value'
    if isinstance(default, bool):
        return 'a bool (True or False)'
    if isinstance(default, int):
        return 'an int'
    if isinstance(default, float):
        return 'a number'
    if isinstance(default, str):
        return 'a string'
    if isinstance(default, list):
        return 'a list'
    if isinstance(default, dict):
        return 'a mapping'
    return f'a {type(default).__name__}'


def _matches(value, default):
    """Whether ``value`` has the type that ``default`` asks for (see the module docstring)."""
    if default is None:
        return True
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, int):
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if isinstance(default, (str, list, dict)):
        return isinstance(value, type(default))
    return isinstance(value, type(default))


def _show(value):
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + '...'


def check_config(values, schema, path, require_all=True, prefix=''):
    """Check a mapping of configuration values against a schema mapping of defaults.

    Args:
        values (dict): What the file holds.
        schema (dict): The defaults that define the keys and their types.
        path (str | Path): The file, named in every message.
        require_all (bool): Every schema key must be present (a complete configuration file). False
            checks only the keys present (an override file). Default: True.
        prefix (str): Dotted key prefix for nested mappings (internal). Default: ''.

    Raises:
        ConfigError: The first unknown key, missing key or value of the wrong type.
    """
    for key, value in values.items():
        name = f'{prefix}{key}'
        if key not in schema:
            close = difflib.get_close_matches(str(key), [str(k) for k in schema], n=1)
            hint = f" (did you mean '{prefix}{close[0]}'?)" if close else ''
            raise ConfigError(f"{path}: unknown key '{name}'{hint}")
        default = schema[key]
        if not _matches(value, default):
            raise ConfigError(f"{path}: key '{name}' must be {describe_type(default)}, got {_show(value)}")
        if isinstance(default, dict) and default:
            check_config(value, default, path, require_all, prefix=f'{name}.')
        elif isinstance(default, list) and default and value:
            kinds = {type(item) for item in default}
            if len(kinds) == 1:
                for i, item in enumerate(value):
                    if not _matches(item, default[0]):
                        raise ConfigError(f"{path}: key '{name}[{i}]' must be {describe_type(default[0])}, "
                                          f'got {_show(item)}')
    if require_all:
        for key, default in schema.items():
            if key not in values:
                example = '' if default is None or isinstance(default, (dict, list)) else f', e.g. {default!r}'
                raise ConfigError(f"{path}: missing key '{prefix}{key}' (expected {describe_type(default)}{example})")


def load_checked(path, schema_path, flag='--config_path', require_all=True):
    """Read ``path`` and check its first document against the first document of ``schema_path``.

    Args:
        path (str | Path): The file a user gave.
        schema_path (str | Path): The model's default configuration file.
        flag (str): How ``path`` was given. Default: '--config_path'.
        require_all (bool): See :func:`check_config`. Default: True.

    Returns:
        list[dict]: The documents of ``path`` (the first one checked).
    """
    docs = read_yaml_documents(path, flag)
    if Path(path).resolve() != Path(schema_path).resolve():
        schema = read_yaml_documents(schema_path, 'schema')[0]
        check_config(docs[0], schema, path, require_all=require_all)
    return docs
