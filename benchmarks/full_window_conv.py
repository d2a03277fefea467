"""fc6, fc7 and fc6-deconv of the paper network: convolution or matrix product.

At 224x224 input DeconvNet's fully connected layers see their whole input
in one window: fc6 is a 7x7 valid convolution of a 7x7 map, fc7 a 1x1
convolution of a 1x1 map, fc6-deconv a 7x7 transposed convolution of a
1x1 map. This times each, at the paper's shapes and `--batch`, as Keras'
`Conv2D` / `Conv2DTranspose` and as this package's `FullWindowConv2D` /
`FullWindowConv2DTranspose` (one matrix product), in float32 and with
bfloat16 weights (and with float32 weights rounded to bfloat16 on every
call, `mixed_bfloat16`), and PyTorch's `Conv2d` / `ConvTranspose2d`
(channels-last, `no_grad`; bf16 under `autocast`) beside them when torch
is installed. Every candidate is timed in interleaved rounds of one run:

    python benchmarks/full_window_conv.py [--repeats 5] [--json PATH]
"""

import os
import sys

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import format_table  # noqa: E402
from common import layer_benchmark_parser  # noqa: E402
from common import parse_layer_benchmark_args  # noqa: E402
from common import time_interleaved  # noqa: E402
from common import write_report  # noqa: E402

# name, transposed, input (height, width, channels), kernel, filters.
PAPER_LAYERS = (
    ("fc6", False, (7, 7, 512), 7, 4096),
    ("fc7", False, (1, 1, 4096), 1, 4096),
    ("fc6_deconv", True, (1, 1, 4096), 7, 512),
)


def keras_candidates(spec, batch, rng):
    """name -> zero-argument callable, for the Keras layers of `spec`."""
    import keras
    import tensorflow as tf

    from keras_deconvnet.layers import FullWindowConv2D
    from keras_deconvnet.layers import FullWindowConv2DTranspose

    name, transposed, input_shape, kernel_size, filters = spec
    classes = ((keras.layers.Conv2DTranspose, FullWindowConv2DTranspose)
               if transposed else (keras.layers.Conv2D, FullWindowConv2D))
    x = rng.standard_normal((batch, *input_shape)).astype(np.float32)
    weights = None
    candidates, outputs = {}, {}
    # "mixed_bfloat16": float32 weights rounded to bf16 on every call, as
    # the bf16 twin's layers did before it stored bf16 weights.
    for dtype in ("float32", "bfloat16", "mixed_bfloat16"):
        inputs = tf.cast(tf.constant(x),
                         "bfloat16" if "bfloat16" in dtype else dtype)
        for layer_class, label in zip(classes, ("keras conv", "full window")):
            layer = layer_class(filters, kernel_size, padding="valid",
                                dtype=dtype)
            layer.build(inputs.shape)
            if weights is None:
                weights = [rng.standard_normal(w.shape).astype(np.float32)
                           / np.sqrt(np.prod(w.shape[:-1]))
                           for w in layer.get_weights()]
            layer.set_weights(weights)
            function = tf.function(layer)
            key = f"{label} {dtype}"
            outputs[key] = np.asarray(tf.cast(function(inputs), "float32"))
            candidates[key] = (
                lambda f=function, i=inputs: f(i).numpy())
    return candidates, outputs, x, weights


def torch_candidates(spec, x, weights):
    import torch

    from torch_reference import inference_call

    name, transposed, input_shape, kernel_size, filters = spec
    if transposed:
        module = torch.nn.ConvTranspose2d(input_shape[-1], filters,
                                          kernel_size)
        # Keras (kh, kw, out, in) -> PyTorch (in, out, kh, kw).
        kernel = weights[0].transpose(3, 2, 0, 1)
    else:
        module = torch.nn.Conv2d(input_shape[-1], filters, kernel_size)
        kernel = weights[0].transpose(3, 2, 0, 1)  # -> (out, in, kh, kw)
    with torch.no_grad():
        module.weight.copy_(torch.from_numpy(np.ascontiguousarray(kernel)))
        module.bias.copy_(torch.from_numpy(weights[1]))
    module = module.eval().to(memory_format=torch.channels_last)
    inputs = torch.from_numpy(np.ascontiguousarray(
        x.transpose(0, 3, 1, 2))).contiguous(
            memory_format=torch.channels_last)

    outputs = {"torch float32": inference_call(module, inputs)().numpy()
               .transpose(0, 2, 3, 1)}
    return {"torch float32": inference_call(module, inputs),
            "torch bfloat16": inference_call(module, inputs, bf16=True)}, \
        outputs


def measure(args):
    rng = np.random.default_rng(0)
    rows = []
    for spec in PAPER_LAYERS:
        candidates, outputs, x, weights = keras_candidates(
            spec, args.batch, rng)
        if not args.no_torch:
            try:
                torch_calls, torch_outputs = torch_candidates(spec, x, weights)
                candidates.update(torch_calls)
                outputs.update(torch_outputs)
            except ImportError:
                args.no_torch = True
        reference = outputs["keras conv float32"]
        scale = float(np.abs(reference).max())
        row = {"layer": spec[0], "batch": args.batch}
        for key, value in outputs.items():
            if key != "keras conv float32":
                row[f"{key} rel error"] = float(
                    np.abs(value - reference).max() / scale)
        print(f"timing {spec[0]}", flush=True)
        timings = time_interleaved(candidates, repeats=args.repeats, warmup=2)
        for key, timing in timings.items():
            row[f"{key} ms"] = 1e3 * timing["median_s"]
        for dtype in ("float32", "bfloat16"):
            row[f"speedup {dtype}"] = (row[f"keras conv {dtype} ms"]
                                       / row[f"full window {dtype} ms"])
        rows.append(row)
    return rows


def main(argv=None):
    parser = layer_benchmark_parser(__doc__, 5,
                                    "interleaved timed rounds per layer")
    parser.add_argument("--no-torch", action="store_true",
                        help="skip PyTorch even where it is installed")
    args, info = parse_layer_benchmark_args(parser, argv)
    rows = measure(args)
    columns = ["layer", "keras conv float32 ms", "full window float32 ms",
               "torch float32 ms", "keras conv bfloat16 ms",
               "full window bfloat16 ms", "full window mixed_bfloat16 ms",
               "torch bfloat16 ms",
               "speedup float32", "speedup bfloat16"]
    print(format_table(rows, columns))
    write_report({"benchmark": "full_window_conv", "machine": info,
                  "batch": args.batch, "repeats": args.repeats,
                  "command": "python benchmarks/full_window_conv.py "
                             + " ".join(argv if argv is not None
                                        else sys.argv[1:]),
                  "layers": rows}, args.json)
    return rows


if __name__ == "__main__":
    main()
