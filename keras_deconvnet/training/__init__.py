"""Training of DeconvNet: the paper's recipe for Keras 3.

The loss, the Caffe-style SGD, the schedules and the batch-norm
re-estimation use `keras.ops` only and run on any backend. The trainer,
the distribution strategies and the callbacks that write files are
TensorFlow-only (tf.data input, `tf.distribute`); they live in
`keras_deconvnet.training.trainer` and `.strategies`, which this package
does not import, so that `import keras_deconvnet.training` stays light.

Example:

>>> from keras_deconvnet.training.trainer import train
>>> result = train(dataset="synthetic", data_dir="data/synthetic",
...                stage=1, width=0.0625, epochs=1, steps_per_epoch=5,
...                batch_size=2)
>>> result.model_path
"""

from keras_deconvnet.training.batch_norm_statistics import (
    reestimate_batch_norm_statistics,
)
from keras_deconvnet.training.losses import SegmentationCrossEntropy
from keras_deconvnet.training.losses import median_frequency_weights
from keras_deconvnet.training.optimizers import CaffeSGD
from keras_deconvnet.training.optimizers import KernelDecayAdamW
from keras_deconvnet.training.schedules import CaffeStepSchedule

__all__ = [
    "CaffeSGD",
    "CaffeStepSchedule",
    "KernelDecayAdamW",
    "SegmentationCrossEntropy",
    "median_frequency_weights",
    "reestimate_batch_norm_statistics",
]
