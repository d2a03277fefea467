"""The paper's solver settings, shared by `train()` and the `train` command.

Plain values with no imports, so that the command line's `--help` starts
no Keras.
"""

# Caffe SGD as in the paper: `train()`'s defaults.
PAPER_OPTIMIZER = {
    "optimizer": "sgd",
    "learning_rate": 0.01,
    "momentum": 0.9,
    "weight_decay": 0.0005,
    "bias_learning_rate_multiplier": 2.0,
}

# The paper's mini-batch (64 crops).
PAPER_BATCH_SIZE = 64
