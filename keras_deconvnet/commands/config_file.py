"""Flag values from a YAML or JSON file, as an argparse parser's defaults.

A recipe file maps flag names with underscores to values
(`batch_size: 8`, `scale_range: [0.5, 1.0]`, `class_weighting: true`).
Each value is converted and checked by its flag's own `type` and
`choices`, so a file obeys the command line's rules; flags given on the
command line still override it.
"""

import argparse
import json


def read_config_file(path):
    """The `{key: value}` mapping of a JSON (`.json`) or YAML file."""
    with open(path) as file:
        text = file.read()
    try:
        if path.endswith(".json"):
            values = json.loads(text)
        else:
            values = _load_yaml(text)
    except ValueError as error:
        raise ValueError(f"Could not read the config file {path}: {error}")
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise ValueError(f"The config file {path} must hold a mapping of "
                         f"flag names to values. Received: {values!r}")
    return values


def _load_yaml(text):
    try:
        import yaml
    except ImportError:
        raise ValueError("YAML files need PyYAML (pip install pyyaml, or "
                         "keras-deconvnet[training]); JSON files do not")
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ValueError(str(error))


def config_defaults(parser, path):
    """Checks a config file's values like flags; returns parser defaults.

    Each value goes through its flag's `type` and `choices`, so a file
    is held to the command line's rules. Errors name the key and the file
    (through `parser.error`, which exits with status 2).
    """
    try:
        values = read_config_file(path)
    except (OSError, ValueError) as error:
        parser.error(str(error))
    actions = {action.dest: action for action in parser._actions
               if action.option_strings and action.dest not in (
                   "help", "config")}
    defaults = {}
    for key, value in values.items():
        action = actions.get(key)
        if action is None:
            parser.error(
                f"unknown key `{key}` in the config file {path}; keys are "
                f"the flags of {parser.prog} with underscores, e.g. "
                f"{next(iter(actions))}")
        try:
            defaults[key] = _flag_value(action, value)
        except (argparse.ArgumentTypeError, TypeError, ValueError) as error:
            parser.error(f"`{key}` in the config file {path}: {error}. "
                         f"Received: {key}={value!r}")
    return defaults


def _flag_value(action, value):
    """`value` converted and checked as the command line would."""
    if action.nargs == 0:  # store_true, --flag/--no-flag
        if not isinstance(value, bool):
            raise TypeError("must be true or false")
        return value
    if value is None:
        return None
    if isinstance(action.nargs, int):
        if not isinstance(value, list) or len(value) != action.nargs:
            raise TypeError(f"must be a list of {action.nargs} values")
        return [_scalar_value(action, item) for item in value]
    if action.nargs in ("+", "*"):
        # One value or a list, as `--tile-scale 0.75` or `--tile-scale 0.5 1`.
        items = value if isinstance(value, list) else [value]
        if action.nargs == "+" and not items:
            raise TypeError("must be a value or a non-empty list")
        return [_scalar_value(action, item) for item in items]
    return _scalar_value(action, value)


def _scalar_value(action, value):
    if isinstance(value, (bool, list, dict)):
        raise TypeError("must be a single number or string")
    converted = (action.type or str)(str(value))
    if action.choices is not None and converted not in action.choices:
        raise ValueError(
            f"must be one of {', '.join(map(str, action.choices))}")
    return converted
