"""Benchmark: argmax pooling + unpooling, this package against the baseline.

TensorFlow backend. Each candidate pools a VGG-sized feature map with
switches and unpools it back; "fwd+bwd" also takes the gradient of
`sum(output * upstream)` with respect to the input and returns both
(so neither framework can prune the forward). Ours runs as a plain
`tf.function` and under `jit_compile=True`; the baseline
(`tf.nn.max_pool_with_argmax` + `tf.scatter_nd`) has no XLA kernel, so it
runs as a plain `tf.function`. PyTorch's MaxPool2d/MaxUnpool2d is timed
beside them when torch is installed.
"""

import numpy as np

from common import Section
from common import ratio_row
from common import time_interleaved

DEFAULT_SHAPES = ((8, 112, 112, 128), (8, 56, 56, 256))
TARGET_SPEEDUP = 3.0


def _tensorflow_candidates(shape, rng):
    import tensorflow as tf

    import baseline_layers
    from keras_deconvnet.layers import MaxPoolingWithArgmax2D
    from keras_deconvnet.layers import MaxUnpooling2D

    # Post-ReLU data: many zeros, so ties are frequent as in the network.
    inputs = tf.constant(
        np.maximum(rng.normal(size=shape), 0.0).astype("float32")
    )
    upstream = tf.constant(rng.normal(size=shape).astype("float32"))
    pool = MaxPoolingWithArgmax2D()
    unpool = MaxUnpooling2D()

    def ours(x):
        pooled, switches = pool(x)
        return unpool(pooled, switches)

    def gradient_of(forward):
        def forward_backward(x):
            with tf.GradientTape() as tape:
                tape.watch(x)
                outputs = forward(x)
                loss = tf.reduce_sum(outputs * upstream)
            # Returning the outputs too: in a network they feed the next
            # layer, so graph pruning must not skip the unpooling.
            return outputs, tape.gradient(loss, x)

        return forward_backward

    functions = {
        "ours (xla)": (ours, True),
        "ours (graph)": (ours, False),
        "baseline (graph)": (baseline_layers.baseline_pool_unpool, False),
    }
    candidates = {"fwd": {}, "fwd+bwd": {}}
    for name, (forward, jit) in functions.items():
        candidates["fwd"][name] = tf.function(forward, jit_compile=jit)
        candidates["fwd+bwd"][name] = tf.function(
            gradient_of(forward), jit_compile=jit
        )
    # Same answer before timing anything (ties included).
    expected = candidates["fwd"]["baseline (graph)"](inputs).numpy()
    for name, function in candidates["fwd"].items():
        if not np.array_equal(function(inputs).numpy(), expected):
            raise AssertionError(f"{name} differs from the baseline")
    return inputs, candidates


def _torch_candidates(shape, rng):
    import torch

    batch, height, width, channels = shape
    inputs = torch.from_numpy(
        np.maximum(rng.normal(size=(batch, channels, height, width)), 0.0)
        .astype("float32")
    )
    upstream = torch.randn(inputs.shape)
    pool = torch.nn.MaxPool2d(2, 2, return_indices=True)
    unpool = torch.nn.MaxUnpool2d(2, 2)

    def forward():
        with torch.no_grad():
            return unpool(*pool(inputs))

    def forward_backward():
        x = inputs.detach().requires_grad_(True)
        outputs = unpool(*pool(x))
        (outputs * upstream).sum().backward()
        return outputs, x.grad

    return {"fwd": {"torch eager": forward},
            "fwd+bwd": {"torch eager": forward_backward}}


def run(args, torch_available):
    section = Section("layers")
    rng = np.random.default_rng(0)
    shapes = args.layer_shapes or DEFAULT_SHAPES
    for shape in shapes:
        shape = tuple(shape)
        inputs, candidates = _tensorflow_candidates(shape, rng)
        torch_candidates = {"fwd": {}, "fwd+bwd": {}}
        if torch_available:
            torch_candidates = _torch_candidates(shape, rng)
        for mode in ("fwd", "fwd+bwd"):
            functions = {
                name: (lambda function=function: function(inputs))
                for name, function in candidates[mode].items()
            }
            functions.update(torch_candidates[mode])
            timings = time_interleaved(functions, args.repeats, args.warmup)
            section.add_timings(
                timings,
                {"shape": "x".join(map(str, shape)), "mode": mode},
                per_call_items=shape[0],
            )
            best_ours = min(
                timings["ours (xla)"]["median_s"],
                timings["ours (graph)"]["median_s"],
            )
            section.ratios.append(
                ratio_row(
                    f"baseline / ours best, {mode}, {'x'.join(map(str, shape))}",
                    timings["baseline (graph)"]["median_s"],
                    best_ours,
                    TARGET_SPEEDUP if mode == "fwd+bwd" else None,
                )
            )
            section.ratios.append(
                ratio_row(
                    f"ours graph / ours xla, {mode}, "
                    f"{'x'.join(map(str, shape))}",
                    timings["ours (graph)"]["median_s"],
                    timings["ours (xla)"]["median_s"],
                )
            )
    if not torch_available:
        section.note("PyTorch not used (not installed, or --no-torch)")
    section.print_report(
        ["shape", "mode", "name", "median_s", "min_s", "max_s", "number"]
    )
    return section
