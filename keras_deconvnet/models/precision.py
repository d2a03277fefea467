"""Inference precision: float32, or a bfloat16 twin of a model.

Free of TensorFlow, so that GPU machines with JAX alone can build the
bfloat16 twin that `Segmenter(precision="bfloat16")` runs.
"""

import warnings

import keras


PRECISIONS = ("float32", "bfloat16")


def cpu_bf16_support():
    """How this CPU runs bfloat16 matrix products: `"amx"` (AMX tiles),
    `"avx512_bf16"` (AVX-512 BF16 dot products) or `None` (emulated,
    usually slower than float32). Read from /proc/cpuinfo (Linux)."""
    try:
        with open("/proc/cpuinfo") as file:
            flags = set(next(
                (line for line in file if line.startswith("flags")), ""
            ).split())
    except OSError:
        return None
    if "amx_bf16" in flags:
        return "amx"
    return "avx512_bf16" if "avx512_bf16" in flags else None


def _twin_policy(class_name):
    """The dtype policy of a layer of the bfloat16 twin.

    Kernels and biases are stored in bfloat16 (policy `"bfloat16"`):
    `mixed_bfloat16` would keep them in float32 and round them to bfloat16
    on every call, the same values at the cost of a pass over all weights
    (1 GB for the paper network; the matrix products of its fc6, fc7 and
    fc6-deconv took 113 ms with the rounding against 41 ms without, per
    batch of 8 on a 2-core Xeon, `benchmarks/full_window_conv.py`).
    Normalisation layers left unfolded keep `mixed_bfloat16`, whose
    statistics stay float32.
    """
    if class_name in ("BatchNormalization", "LayerNormalization",
                      "GroupNormalization"):
        return "mixed_bfloat16"
    return "bfloat16"


def with_precision(model, precision="float32"):
    """`model` itself for `"float32"`; for `"bfloat16"`, an inference twin
    whose layers compute in bfloat16 with their weights stored in bfloat16
    (the values `mixed_bfloat16` would compute with), except the input
    preprocessing (mean subtraction of 0-255 values needs float32's
    resolution) and the output scores.

    The bfloat16 twin is built from `models.optimize_for_inference(model)`
    where the model is functional: BatchNormalization folded into the
    convolutions (Keras normalises bfloat16 activations in float32, so
    every unfolded BN adds two casts and a pass over a large activation;
    on a 2-core Xeon with AMX folding took the paper network's bf16
    forward from 1.70 s to 1.32 s per batch of 8), and stride-1
    transposed convolutions as convolutions (without Winograd
    convolutions, whose transforms round too coarsely in bfloat16). These
    rewrites are exact in inference mode. The twin is for inference.

    Raises:
        ValueError: unknown `precision`.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"`precision` must be one of {PRECISIONS}. "
                         f"Received: precision={precision!r}")
    if precision == "float32":
        return model
    if cpu_bf16_support() is None and keras.backend.backend() != "jax":
        warnings.warn("This CPU has neither AMX nor AVX-512 BF16: bfloat16 "
                      "is emulated and usually slower than float32.")
    from keras_deconvnet.models.inference_model import optimize_for_inference

    # Winograd's transforms would round too coarsely in bfloat16.
    model = optimize_for_inference(model, winograd=False)
    config = model.get_config()
    outputs = set(model.output_names)
    for layer in config["layers"]:
        if (layer["class_name"] not in ("InputLayer", "CaffePreprocessing")
                and layer["config"]["name"] not in outputs):
            layer["config"]["dtype"] = _twin_policy(layer["class_name"])
    twin = model.__class__.from_config(config)
    twin.set_weights(model.get_weights())
    return twin
