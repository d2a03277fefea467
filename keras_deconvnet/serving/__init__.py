"""Clients for DeconvNets exported to TensorFlow Serving.

Importing `keras_deconvnet` does not import this package. The gRPC path
needs `tensorflow-serving-api` (and so TensorFlow), imported on first use;
the REST path needs only NumPy.

Example:

>>> from keras_deconvnet.serving import Client
>>> with Client("127.0.0.1", 8500, model_name="deconvnet") as client:
...     labels = client.segment(image, boxes)["labels"]
"""

from keras_deconvnet.serving.client import DEFAULT_MAX_MESSAGE_BYTES
from keras_deconvnet.serving.client import Client
from keras_deconvnet.serving.client import ServingError

__all__ = ["DEFAULT_MAX_MESSAGE_BYTES", "Client", "ServingError"]
