"""Dense CRF post-processing (needs pydensecrf2; no TensorFlow)."""

from keras_deconvnet.crf.dense_crf import dense_crf

__all__ = ["dense_crf"]
