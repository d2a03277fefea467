"""Import the authors' Caffe models (DeconvNet, FCN-8s) without Caffe.

`convert_caffe_model` reads a `.caffemodel` (the V1 `layers` layout of the
DeconvNet release or the newer `layer` layout) and its deploy `.prototxt`
with a small wire-format reader of our own (no Caffe, no protobuf
compilation, bounded memory), maps every layer by an explicit name map
and returns a `keras_deconvnet.DeconvNet` or a Caffe-geometry
`FCN8sCaffe` holding the weights.
"""

from keras_deconvnet.caffe.caffemodel_reader import CaffeBlob
from keras_deconvnet.caffe.caffemodel_reader import CaffeLayer
from keras_deconvnet.caffe.caffemodel_reader import CaffeNet
from keras_deconvnet.caffe.caffemodel_reader import read_caffemodel
from keras_deconvnet.caffe.caffemodel_writer import write_caffemodel
from keras_deconvnet.caffe.converter import convert_caffe_model
from keras_deconvnet.caffe.fcn8s_caffe import FCN8sCaffe
from keras_deconvnet.caffe.prototxt import read_prototxt

__all__ = [
    "CaffeBlob",
    "CaffeLayer",
    "CaffeNet",
    "FCN8sCaffe",
    "convert_caffe_model",
    "read_caffemodel",
    "read_prototxt",
    "write_caffemodel",
]
