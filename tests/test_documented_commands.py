"""Every command the README and the docs show parses with today's options.

Commands are copied from `--help`; this catches a renamed or removed
option before a user does. Only parsing runs: nothing is trained or read.
"""

import contextlib
import glob
import io
import os
import re
import shlex

import pytest

from keras_deconvnet.__main__ import load_command

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCUMENTS = ["README.md", "benchmarks/README.md", *sorted(glob.glob("docs/**/*.md", root_dir=ROOT,
                                            recursive=True))]
# The scripts users know -> the subcommand they wrap.
SCRIPTS = {
    "training/train.py": "train",
    "training/evaluate.py": "evaluate",
    "serving/export.py": "export",
    "serving/export_tflite.py": "export-tflite",
}
SHELL_FENCES = ("```", "```bash", "```sh", "```console")


def shell_blocks(text):
    """The contents of the fenced code blocks that hold shell commands."""
    blocks, current, fence = [], None, None
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped.startswith("```"):
            if current is not None:
                current.append(line)
        elif fence is None:
            fence, current = stripped, []
        else:
            if fence in SHELL_FENCES:
                blocks.append("\n".join(current))
            fence, current = None, None
    return blocks


def documented_commands():
    """`(document, line, command, args)` for each command in a code block."""
    found = []
    for document in DOCUMENTS:
        with open(os.path.join(ROOT, document)) as file:
            text = file.read()
        for block in shell_blocks(text):
            for line in block.replace("\\\n", " ").splitlines():
                words = shlex.split(line, comments=True)
                while words and re.match(r"^[A-Z_]+=", words[0]):
                    words.pop(0)  # environment assignments before a command
                if not words:
                    continue
                if words[0].split("/")[-1] == "keras-deconvnet" and len(words) > 1:
                    command, args = words[1], words[2:]
                elif "python" in words[0] and len(words) > 1 and words[1] in SCRIPTS:
                    command, args = SCRIPTS[words[1]], words[2:]
                else:
                    continue
                found.append((document, line.strip(), command, args))
    return found


COMMANDS = documented_commands()


def test_the_readme_shows_every_command():
    shown = {command for document, _, command, _ in COMMANDS
             if document == "README.md"}
    assert shown >= {"demo", "make-synthetic", "train", "evaluate", "segment",
                     "export", "export-tflite", "convert-caffe"}


@pytest.mark.parametrize(
    "document, line, command, args", COMMANDS,
    ids=[f"{d}:{c}:{i}" for i, (d, _, c, _) in enumerate(COMMANDS)],
)
def test_documented_command_parses(document, line, command, args):
    parser = load_command(command).build_parser()
    errors = io.StringIO()
    try:
        with contextlib.redirect_stderr(errors), \
                contextlib.redirect_stdout(io.StringIO()):
            parser.parse_args(args)
    except SystemExit as exit:
        assert exit.code == 0, (
            f"{document}: `{line}` does not parse: {errors.getvalue()}"
        )
