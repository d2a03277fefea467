"""A small reader for Caffe `.prototxt` net definitions (protobuf text).

Only what a deploy file needs: nested messages, scalar fields, quoted
strings, enum names and `#` comments. Both `layers { type: CONVOLUTION }`
(V1) and `layer { type: "Convolution" }` blocks are read.
"""

import dataclasses
import os
import re

from keras_deconvnet.caffe.caffemodel_reader import V1_LAYER_TYPES
from keras_deconvnet.caffe.layer_parameters import text_layer_parameters

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<comment>\#[^\n]*) |
        (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*') |
        (?P<punctuation>[{}:;,\[\]<>]) |
        (?P<word>[A-Za-z0-9_+\-.]+)
    )""",
    re.VERBOSE,
)

# Type spellings normalised (upper case, no underscores) to string types.
_TYPE_NAMES = {name.upper(): name for name in V1_LAYER_TYPES.values()}
_TYPE_NAMES["SOFTMAXLOSS"] = "SoftmaxWithLoss"


def normalize_layer_type(type_name):
    """`CONVOLUTION`, `Convolution` -> `Convolution` (unknown kept)."""
    key = str(type_name).upper().replace("_", "")
    return _TYPE_NAMES.get(key, str(type_name))


def _tokens(text, path):
    position = 0
    text = text.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match or match.end() == position:
            line = text.count("\n", 0, position) + 1
            raise ValueError(
                f"Cannot parse '{path}' at line {line}: unexpected "
                f"{text[position:position + 20]!r}."
            )
        position = match.end()
        if match.group("comment") is not None:
            continue
        for kind in ("string", "punctuation", "word"):
            value = match.group(kind)
            if value is not None:
                line = text.count("\n", 0, match.start(kind)) + 1
                yield kind, value, line
                break


def _scalar(kind, value):
    if kind == "string":
        return value[1:-1].encode("utf-8").decode("unicode_escape")
    try:
        return int(value)
    except ValueError:
        pass
    try:
        return float(value)
    except ValueError:
        return value  # enum name, true/false


def parse_prototxt_text(text, path="<prototxt>"):
    """Parses protobuf text into nested dicts: field name -> list of values."""
    tokens = list(_tokens(text, path))
    position = 0

    def error(message, line):
        return ValueError(f"Cannot parse '{path}' at line {line}: {message}")

    def message(closing):
        nonlocal position
        fields = {}
        while position < len(tokens):
            kind, value, line = tokens[position]
            if kind == "punctuation" and value in "}>":
                if closing is None:
                    raise error(f"unmatched '{value}'", line)
                position += 1
                return fields
            if kind == "punctuation" and value in ";,":
                position += 1
                continue
            if kind != "word":
                raise error(f"expected a field name, found {value!r}", line)
            name = value
            position += 1
            if position < len(tokens) and tokens[position][1] == ":":
                position += 1
            if position >= len(tokens):
                raise error(f"field '{name}' has no value", line)
            kind, value, line = tokens[position]
            if kind == "punctuation" and value in "{<":
                position += 1
                fields.setdefault(name, []).append(message(value))
            elif kind in ("string", "word"):
                position += 1
                fields.setdefault(name, []).append(_scalar(kind, value))
            else:
                raise error(f"field '{name}' has no value", line)
        if closing is not None:
            raise error("missing '}' at the end of the file", tokens[-1][2])
        return fields

    return message(None)


@dataclasses.dataclass
class PrototxtLayer:
    name: str
    type: str
    bottoms: list
    tops: list
    parameters: dict


@dataclasses.dataclass
class PrototxtNet:
    """A net definition: `name`, `input_dims` and its layers in order."""

    path: str
    name: str
    input_dims: list
    layers: list


def read_prototxt(path):
    """Reads a deploy `.prototxt` (V1 `layers` or new `layer` blocks).

    Args:
        path: the text file.

    Returns:
        A `PrototxtNet`.

    Raises:
        FileNotFoundError: no file at `path`.
        ValueError: the text does not parse, or a layer has no name.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No prototxt file at '{path}'.")
    with open(path, encoding="utf-8") as file:
        fields = parse_prototxt_text(file.read(), path)
    blocks = fields.get("layers", []) + fields.get("layer", [])
    layers = []
    for index, block in enumerate(blocks):
        if not isinstance(block, dict) or not block.get("name"):
            raise ValueError(
                f"Layer #{index} of '{path}' has no `name`; every layer "
                "needs one to be matched with the caffemodel."
            )
        layers.append(PrototxtLayer(
            name=str(block["name"][0]),
            type=normalize_layer_type(block.get("type", ["None"])[0]),
            bottoms=[str(value) for value in block.get("bottom", [])],
            tops=[str(value) for value in block.get("top", [])],
            parameters=text_layer_parameters(block),
        ))
    input_dims = [int(value) for value in fields.get("input_dim", [])]
    for shape in fields.get("input_shape", []):
        input_dims.extend(int(value) for value in shape.get("dim", []))
    name = fields.get("name", [""])[0]
    return PrototxtNet(path, str(name), input_dims, layers)
