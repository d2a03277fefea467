"""Runs one small `train()` for the backend tests; prints its history.

Usage: python tests/jax_training_run.py DATA_DIR INIT OUT [key=value ...]
(run with KERAS_BACKEND set; values are Python literals). The setting
`then_evaluate=[[...], ...]` runs the `evaluate` command once per argument
list after training, in the same process (a JAX process pays its start
and compilations once).
"""

import ast
import json
import sys

import keras

from keras_deconvnet.training.trainer import train


def main(data_dir, init, out, *settings):
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        # The same numbers on every run and thread count (oneDNN too).
        tf.config.experimental.enable_op_determinism()
    options = dict(
        dataset="synthetic", data_dir=data_dir, out_dir=out, crops="whole",
        init=None if init == "-" else init, width=0.125, epochs=2,
        steps_per_epoch=12, batch_size=4, learning_rate=0.1,
        schedule="step", validation_steps=1, bn_examples=8, verbose=0,
    )
    for setting in settings:
        key, value = setting.split("=", 1)
        options[key] = ast.literal_eval(value)
    evaluations = options.pop("then_evaluate", [])
    result = train(**options)
    model = result.model
    summary = {
        "backend": keras.backend.backend(),
        "losses": [epoch["loss"] for epoch in result.history],
        "history": result.history,
        "conv_dtype": model.get_layer("conv1_1").compute_dtype,
        "output_dtype": str(model.outputs[0].dtype),
        "kernel_devices": len(getattr(
            model.get_layer("conv1_1").kernel.value, "devices",
            lambda: [None])()),
    }
    if evaluations:
        from keras_deconvnet.commands.evaluate import main as evaluate

        for arguments in evaluations:
            code = evaluate(arguments)
            if code:
                sys.exit(code)
    # Last, as the line the tests read.
    print(json.dumps(summary))


if __name__ == "__main__":
    main(*sys.argv[1:])
