"""TFLite / LiteRT export (TensorFlow only).

`export_tflite` exports the model's crop signature (`images` float32
`[1, S, S, 3]` RGB 0-255 -> `scores` float32 `[1, S, S, C]`, signature
`serving_default`), converts it restricted to TFLite builtin ops (small
models as a function with the weights frozen in, large ones through a
SavedModel: `FROZEN_CONVERSION_MAX_BYTES`), and checks the result's
operator list: a Flex (TensorFlow) or custom op fails the export, naming
the op, because LiteRT runtimes without the Flex delegate (ai-edge-litert
among them) cannot run it.

Quantisation modes (inputs and outputs stay float32 in every mode):

- `"none"`: float32 weights and arithmetic.
- `"float16"`: float16 weights, dequantised to float32 at load.
- `"dynamic"`: int8 weights, activations quantised on the fly.
- `"int8"`: int8 weights and activations, calibrated on a representative
  dataset (synthetic images by default, or a folder of images), except
  the Caffe preprocessing ops (`INT8_FLOAT_OPS`), which stay float.
"""

import glob
import os
import tempfile

import keras
import numpy as np
import tensorflow as tf

from keras_deconvnet.inference.crops import model_input_size
from keras_deconvnet.layers import jit_compile_override

QUANTIZE_MODES = ("none", "float16", "dynamic", "int8")
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp")
DEFAULT_CALIBRATION_IMAGES = 32
# Ops kept in float32 by "int8": the model's Caffe preprocessing (RGB to
# BGR flip and mean subtraction). Quantised, it cost most of the int8
# error on the benchmark model (benchmarks/tflite_modes.py): score RMSE
# against Keras 1.82 with it quantised, 0.084 with it in float (3 images).
# Uses the experimental tf.lite.experimental.QuantizationDebugger.
INT8_FLOAT_OPS = ("REVERSE_V2", "SUB")
# Models with weights up to this size convert as a function with the
# weights frozen in, larger ones through a SavedModel written to a
# temporary folder. Best times on a 2-core Xeon, frozen against SavedModel
# (benchmarks/results/tflite_export_time_xeon_2026-12-03.json): width
# 0.0625 (3.8 MiB) 3.9 s against 14.4 s, width 0.25 (60 MiB) 10.0 s
# against 21.6 s. The frozen route's memory grows faster: 6.9 GiB peak at
# width 0.5 (240 MiB), and the paper network (961 MiB) ran out of 23 GiB,
# where the SavedModel route peaked at 8.6 GiB.
FROZEN_CONVERSION_MAX_BYTES = 64 * 2**20


def synthetic_calibration_images(count, crop_size, seed=0):
    """`count` float32 `[S, S, 3]` crops of the synthetic dataset's images."""
    from keras_deconvnet.data.synthetic import synthetic_example

    for index in range(count):
        image = synthetic_example(index, seed=seed)["image"]
        yield tf.image.resize(image, (crop_size, crop_size)).numpy()


def folder_calibration_images(directory, count, crop_size):
    """Up to `count` images of `directory`, resized to `[S, S, 3]` float32.

    Raises:
        ValueError: the folder holds no image file.
    """
    from keras_deconvnet.data.source import read_image

    paths = sorted(
        path
        for path in glob.glob(os.path.join(directory, "*"))
        if path.lower().endswith(IMAGE_EXTENSIONS)
    )
    if not paths:
        raise ValueError(
            f"No image ({', '.join(IMAGE_EXTENSIONS)}) found in the "
            f"calibration folder. Received: calibration_dir={directory!r}"
        )
    for path in paths[:count]:
        image = read_image(path)
        yield tf.image.resize(image, (crop_size, crop_size)).numpy()


def tflite_operators(tflite_bytes):
    """Returns the operator names of a TFLite flatbuffer.

    Builtins by their name (`"CONV_2D"`), custom ops (Flex ops included)
    as `"custom:<name>"` (`"custom:FlexMaxPoolWithArgmax"`).
    """
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(
        bytearray(tflite_bytes)
    )
    builtin_names = {
        value: name
        for name, value in vars(schema.BuiltinOperator).items()
        if not name.startswith("_")
    }
    names = set()
    for code in model.operatorCodes:
        builtin = max(code.builtinCode, code.deprecatedBuiltinCode)
        if builtin == schema.BuiltinOperator.CUSTOM:
            custom = code.customCode
            if isinstance(custom, bytes):
                custom = custom.decode()
            names.add(f"custom:{custom}")
        else:
            names.add(builtin_names.get(builtin, str(builtin)))
    return sorted(names)


def check_builtin_ops(tflite_bytes):
    """Raises `RuntimeError` naming any Flex or custom op in the model."""
    custom = [name for name in tflite_operators(tflite_bytes) if "custom:" in name]
    if custom:
        raise RuntimeError(
            "The TFLite model needs ops outside the TFLite builtins: "
            f"{', '.join(custom)}. LiteRT without the Flex delegate cannot "
            "run it; rewrite the layer with builtin-friendly keras.ops."
        )


def _crop_function(model, crop_size):
    @tf.function(
        input_signature=[
            tf.TensorSpec([1, crop_size, crop_size, 3], tf.float32, "images")
        ]
    )
    def serve(images):
        return {"scores": tf.cast(model(images, training=False), tf.float32)}

    return serve


def weight_bytes(model):
    """The size of `model`'s weights in bytes."""
    return sum(int(np.prod(weight.shape)) * np.dtype(weight.dtype).itemsize
               for weight in model.weights)


def _crop_converter(model, crop_size, folder):
    """A converter of the crop signature, by the route that suits the
    model's size (`FROZEN_CONVERSION_MAX_BYTES`); `folder` holds the
    SavedModel of the large-model route until the conversion ends."""
    serve = _crop_function(model, crop_size)
    if weight_bytes(model) <= FROZEN_CONVERSION_MAX_BYTES:
        from tensorflow.python.framework import convert_to_constants

        # Builtin ops only: no XLA clusters in the converted graph.
        with jit_compile_override(False):
            function = serve.get_concrete_function()
        frozen = convert_to_constants.convert_variables_to_constants_v2(
            function)
        return tf.lite.TFLiteConverter.from_concrete_functions([frozen])
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint("serving_default", serve)
    with jit_compile_override(False):
        archive.write_out(folder, verbose=False)
    return tf.lite.TFLiteConverter.from_saved_model(folder)


def _with_crop_signature(tflite_bytes):
    """Adds the `serving_default` signature (`images` -> `scores`), which
    LiteRT's `get_signature_runner()` calls by name, where the conversion
    left none (the frozen-function route)."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    if schema.Model.GetRootAs(tflite_bytes, 0).SignatureDefsLength():
        return tflite_bytes
    model = flatbuffer_utils.convert_bytearray_to_object(
        bytearray(tflite_bytes)
    )
    subgraph = model.subgraphs[0]

    def tensor_map(name, index):
        entry = schema.TensorMapT()
        entry.name, entry.tensorIndex = name, index
        return entry

    signature = schema.SignatureDefT()
    signature.signatureKey = "serving_default"
    signature.subgraphIndex = 0
    signature.inputs = [tensor_map("images", subgraph.inputs[0])]
    signature.outputs = [tensor_map("scores", subgraph.outputs[0])]
    model.signatureDefs = [signature]
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def _quantize_selectively(converter, representative_dataset):
    """int8 conversion keeping `INT8_FLOAT_OPS` in float32."""
    options = tf.lite.experimental.QuantizationDebugOptions(
        denylisted_ops=list(INT8_FLOAT_OPS)
    )
    debugger = tf.lite.experimental.QuantizationDebugger(
        converter=converter,
        debug_dataset=representative_dataset,
        debug_options=options,
    )
    return debugger.get_nondebug_quantized_model()


def convert_to_tflite(
    model,
    quantize="none",
    calibration_dir=None,
    num_calibration_images=DEFAULT_CALIBRATION_IMAGES,
):
    """Converts `model` to TFLite flatbuffer bytes (builtin ops only).

    Args: see `export_tflite`.

    Returns:
        The flatbuffer as `bytes`.

    Raises:
        ValueError: a bad argument.
        RuntimeError: the conversion needs Flex or custom ops.
    """
    if quantize not in QUANTIZE_MODES:
        raise ValueError(
            f"`quantize` must be one of {QUANTIZE_MODES}. "
            f"Received: quantize={quantize!r}"
        )
    if calibration_dir is not None and quantize != "int8":
        raise ValueError(
            "`calibration_dir` is only used by quantize='int8'. "
            f"Received: quantize={quantize!r}, calibration_dir={calibration_dir!r}"
        )
    if calibration_dir is not None and not os.path.isdir(calibration_dir):
        raise ValueError(
            "`calibration_dir` is not a folder. "
            f"Received: calibration_dir={calibration_dir!r}"
        )
    if keras.backend.backend() != "tensorflow":
        raise ValueError(
            "TFLite export needs the TensorFlow backend (set "
            f"KERAS_BACKEND=tensorflow). Received: backend={keras.backend.backend()}"
        )
    crop_size = model_input_size(model)
    with tempfile.TemporaryDirectory() as folder:
        converter = _crop_converter(model, crop_size, folder)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        if quantize != "none":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if quantize == "float16":
            converter.target_spec.supported_types = [tf.float16]
        elif quantize == "int8":
            if calibration_dir is None:
                images = synthetic_calibration_images(
                    num_calibration_images, crop_size
                )
            else:
                images = folder_calibration_images(
                    calibration_dir, num_calibration_images, crop_size
                )
            calibration = [image[None].astype(np.float32) for image in images]

            def representative_dataset():
                for image in calibration:
                    yield [image]

            converter.representative_dataset = representative_dataset
        try:
            if quantize == "int8":
                tflite_bytes = _quantize_selectively(
                    converter, representative_dataset
                )
            else:
                tflite_bytes = converter.convert()
        except Exception as error:  # The converter raises several types.
            raise RuntimeError(
                "TFLite conversion with builtin ops only failed (an op with "
                f"no TFLite builtin is named below): {error}"
            ) from error
    tflite_bytes = _with_crop_signature(tflite_bytes)
    check_builtin_ops(tflite_bytes)
    return tflite_bytes


def export_tflite(
    model,
    path,
    quantize="none",
    calibration_dir=None,
    num_calibration_images=DEFAULT_CALIBRATION_IMAGES,
):
    """Exports `model` as a TFLite flatbuffer with builtin ops only.

    Args:
        model: a Keras model mapping `[batch, S, S, 3]` RGB images in
            [0, 255] to raw scores (e.g. `DeconvNet`), TensorFlow backend.
            It runs in inference mode.
        path: the `.tflite` file to write (folders are created).
        quantize: `"none"` (float32), `"float16"`, `"dynamic"` (int8
            weights) or `"int8"` (int8 weights and activations, calibrated).
        calibration_dir: for `"int8"`, a folder of images (jpg/png/bmp) to
            calibrate on; `None` uses synthetic-dataset images.
        num_calibration_images: how many images calibrate `"int8"`.

    Returns:
        `path`.

    Raises:
        ValueError: a bad argument.
        RuntimeError: the model needs Flex or custom ops.

    Example:

    >>> export_tflite(model, "saved_models/deconvnet.tflite", quantize="int8")
    'saved_models/deconvnet.tflite'
    """
    path = os.fspath(path)
    if not path.endswith(".tflite"):
        raise ValueError(f"`path` must end with .tflite. Received: path={path!r}")
    tflite_bytes = convert_to_tflite(
        model,
        quantize=quantize,
        calibration_dir=calibration_dir,
        num_calibration_images=num_calibration_images,
    )
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "wb") as file:
        file.write(tflite_bytes)
    return path
