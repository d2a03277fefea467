"""Model builders: DeconvNet and FCN-8s on a VGG16 encoder."""

from keras_deconvnet.models.batch_norm_folding import fold_batch_norm
from keras_deconvnet.models.deconvnet import DeconvNet
from keras_deconvnet.models.fcn8s import FCN8s
from keras_deconvnet.models.inference_model import optimize_for_inference
from keras_deconvnet.models.label_output import with_label_output
from keras_deconvnet.models.precision import with_precision
from keras_deconvnet.models.segmentation_model import SegmentationModel
from keras_deconvnet.models.weights import transfer_vgg16

__all__ = ["DeconvNet", "FCN8s", "SegmentationModel", "fold_batch_norm",
           "optimize_for_inference", "transfer_vgg16", "with_label_output",
           "with_precision"]
