"""Datasets and training crops for DeconvNet.

Readers (`load_source`, NumPy/PIL/SciPy) for PASCAL VOC 2012, SBD, folder
datasets (CamVid) and a generated VOC-format dataset, and tf.data
pipelines (`training_dataset`, TensorFlow only) of the paper's stage-1
(object) and stage-2 (proposal) crops. Boxes are `[y1, x1, y2, x2]` in
pixel edges (see `keras_deconvnet.data.boxes`).

`import keras_deconvnet` does not import this package; TensorFlow is
imported only when a pipeline is built.

Example:
>>> from keras_deconvnet import data
>>> source = data.load_source("synthetic", "/tmp/synthetic", "train")
>>> dataset = data.training_dataset(source, crops="objects", batch_size=8)
"""

from keras_deconvnet.data.arrays import ArraySegmentation
from keras_deconvnet.data.pipeline import evaluation_examples
from keras_deconvnet.data.pipeline import training_dataset
from keras_deconvnet.data.registry import load_source
from keras_deconvnet.data.source import Example
from keras_deconvnet.data.source import InvalidExampleError
from keras_deconvnet.data.source import SegmentationSource
from keras_deconvnet.data.synthetic import write_synthetic_voc

__all__ = [
    "ArraySegmentation",
    "Example",
    "InvalidExampleError",
    "SegmentationSource",
    "evaluation_examples",
    "load_source",
    "training_dataset",
    "write_synthetic_voc",
]
