"""The `keras-deconvnet` command line (also `python -m keras_deconvnet`).

Each subcommand is a module `keras_deconvnet.commands.<name>` with
`build_parser()` and `main(argv=None)`. The dispatcher imports only the
module of the command that runs, so `keras-deconvnet --help` and every
`keras-deconvnet COMMAND --help` answer without starting TensorFlow.
"""

import importlib
import sys

PROG = "keras-deconvnet"

# Command name -> (module under keras_deconvnet.commands, one-line summary).
COMMANDS = {
    "demo": ("demo", "train, evaluate, segment and export a small DeconvNet "
             "on generated data (minutes on a CPU, no downloads)"),
    "segment": ("segment", "segment image files: label PNGs and overlays"),
    "train": ("train", "train a DeconvNet (two-stage recipe, resumable)"),
    "evaluate": ("evaluate", "per-class IoU and mIoU of a saved model on "
                 "a dataset split"),
    "export": ("export", "export a saved model as a TF-Serving SavedModel"),
    "export-tflite": ("export_tflite", "export a saved model to TFLite/"
                      "LiteRT (float32, float16, dynamic or int8)"),
    "convert-caffe": ("convert_caffe", "convert the authors' Caffe "
                      "DeconvNet / FCN-8s to a .keras file"),
    "make-synthetic": ("make_synthetic", "write the synthetic VOC-format "
                       "segmentation dataset"),
}

EXAMPLES = """\
examples:
  keras-deconvnet demo
  keras-deconvnet segment photo.jpg --model saved_models/ --out segmentations
  keras-deconvnet train --help
  keras-deconvnet export --model saved_models/ --out exported/deconvnet

Run `keras-deconvnet COMMAND --help` for a command's options and examples.
"""

def usage():
    from keras_deconvnet import __version__

    width = max(len(name) for name in COMMANDS)
    lines = [
        f"usage: {PROG} [-h] [--version] COMMAND [ARGS ...]",
        "",
        f"DeconvNet semantic segmentation for Keras 3 (version {__version__}).",
        "",
        "commands:",
        *(f"  {name:<{width}}  {summary}"
          for name, (_, summary) in COMMANDS.items()),
        "",
        EXAMPLES,
    ]
    return "\n".join(lines)


def load_command(name):
    """The module that implements command `name`."""
    module_name = COMMANDS[name][0]
    return importlib.import_module(f"keras_deconvnet.commands.{module_name}")


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0 if argv else 2
    if argv[0] == "--version":
        from keras_deconvnet import __version__

        print(f"{PROG} {__version__}")
        return 0
    name = argv[0]
    if name not in COMMANDS:
        print(usage(), file=sys.stderr)
        print(f"{PROG}: error: unknown command '{name}'. Choose from: "
              f"{', '.join(COMMANDS)}.", file=sys.stderr)
        return 2
    module = load_command(name)
    # argparse names the program after sys.argv[0]: make usage lines read
    # "keras-deconvnet train ..." whichever way the command was started.
    program, sys.argv[0] = sys.argv[0], f"{PROG} {name}"
    try:
        return module.main(argv[1:]) or 0
    finally:
        sys.argv[0] = program


if __name__ == "__main__":
    sys.exit(main())
