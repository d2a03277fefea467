"""Subcommands of the `keras-deconvnet` command line.

Each module provides `build_parser()` and `main(argv=None)` and imports
TensorFlow, Keras and the heavy parts of the package only inside `main`,
so `--help` answers at once.
"""

import argparse
import os
import textwrap

# TensorFlow start-up chatter hides the command's own output.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


class HelpFormatter(argparse.HelpFormatter):
    """Wraps prose paragraphs; keeps indented lines (examples) verbatim."""

    def _fill_text(self, text, width, indent):
        paragraphs = textwrap.dedent(text).strip().split("\n\n")
        filled = []
        for paragraph in paragraphs:
            lines = paragraph.splitlines()
            if any(line.startswith(" ") for line in lines):
                filled.append("\n".join(indent + line for line in lines))
            else:
                filled.append(textwrap.fill(
                    " ".join(lines), width, initial_indent=indent,
                    subsequent_indent=indent,
                ))
        return "\n\n".join(filled)


class DefaultsHelpFormatter(argparse.ArgumentDefaultsHelpFormatter,
                            argparse.RawDescriptionHelpFormatter):
    """Shows defaults and keeps the description's line breaks (for
    commands whose description is their module docstring)."""


def add_network_speed_arguments(parser):
    """`--precision` and `--optimize`: how `Segmenter` runs the network."""
    parser.add_argument("--precision", choices=("float32", "bfloat16"),
                        help="network precision (default: Segmenter's, "
                        "float32); bfloat16 is about 2x faster on CPUs with "
                        "AMX or AVX-512 BF16")
    parser.add_argument("--optimize", action="store_true",
                        help="float32: run the network through "
                        "optimize_for_inference (BN folded, Winograd 3x3 "
                        "convolutions on a CPU); the first image compiles "
                        "for seconds, later ones run faster, so it pays "
                        "over many images")


def command_parser(description, examples):
    """An `ArgumentParser` whose help ends with `examples` (one per line)."""
    example_lines = textwrap.dedent(examples).strip().splitlines()
    return argparse.ArgumentParser(
        description=description,
        epilog="examples:\n" + "\n".join(f"  {line}" for line in example_lines),
        formatter_class=HelpFormatter,
    )
