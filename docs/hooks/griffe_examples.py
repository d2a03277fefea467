"""Griffe extension: the package's `Example:` blocks as Examples sections.

The docstrings write their examples as

    Example:

    >>> model = keras_deconvnet.DeconvNet(num_classes=11)

(doctest lines, not indented under the title). Google-style parsers need
them indented under "Examples:", so this extension indents them before
mkdocstrings parses the docstring; the rendered page then shows them as
Python console code.
"""

import re

import griffe

SECTION_TITLE = re.compile(r"^[A-Z][A-Za-z ]*:$")


def indent_examples(text):
    lines = text.splitlines()
    for start, line in enumerate(lines):
        if line.strip() in ("Example:", "Examples:") and not line.startswith(" "):
            break
    else:
        return text
    end = start + 1
    while end < len(lines) and not SECTION_TITLE.match(lines[end]):
        end += 1
    body = lines[start + 1:end]
    while body and not body[0].strip():
        body.pop(0)
    return "\n".join(
        lines[:start]
        + ["Examples:"]
        + [f"    {line}" if line.strip() else "" for line in body]
        + lines[end:]
    )


class ExampleBlocks(griffe.Extension):
    """Rewrites each object's docstring once, when griffe loads it."""

    def on_instance(self, *, node, obj, agent, **kwargs):
        if obj.docstring is not None:
            obj.docstring.value = indent_examples(obj.docstring.value)
