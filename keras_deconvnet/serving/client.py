"""A TF-Serving client for exported DeconvNets, over gRPC or REST.

gRPC goes through `tensorflow-serving-api`'s `PredictionService`
(`Predict`, `GetModelMetadata`) with message-size limits large enough for
whole-image score maps (gRPC's default of 4 MB is not: the float32 scores
of a 500x375 VOC image with 21 classes are 15.8 MB). REST uses TF-Serving's
`/v1/models/<name>:predict` JSON API (columnar `inputs`/`outputs`).
"""

import json
import urllib.error
import urllib.request

import numpy as np

DEFAULT_MAX_MESSAGE_BYTES = 512 * 1024 * 1024
PROTOCOLS = ("grpc", "rest")

# TF-Serving dtype names -> NumPy, to type REST's JSON outputs.
_NUMPY_DTYPES = {
    "DT_FLOAT": np.float32,
    "DT_DOUBLE": np.float64,
    "DT_HALF": np.float16,
    "DT_INT32": np.int32,
    "DT_INT64": np.int64,
    "DT_UINT8": np.uint8,
    "DT_BOOL": np.bool_,
}

# HTTP status -> canonical code name, as TF-Serving's REST API maps them.
_HTTP_CODES = {
    400: "INVALID_ARGUMENT",
    404: "NOT_FOUND",
    408: "DEADLINE_EXCEEDED",
    412: "FAILED_PRECONDITION",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


class ServingError(RuntimeError):
    """A request the server refused or failed.

    Attributes:
        code: the canonical status name, e.g. `"INVALID_ARGUMENT"`.
        message: the server's message.
    """

    def __init__(self, code, message):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class Client:
    """Calls an exported DeconvNet on TensorFlow Serving.

    Args:
        host: server host.
        port: gRPC port (8500 by default in TF-Serving) or REST port (8501).
        model_name: the model's name in the server's `models.config`.
        protocol: `"grpc"` or `"rest"`.
        version: a model version to pin, or `None` for the server's latest.
        timeout: deadline of each call in seconds.
        max_message_bytes: gRPC send/receive size limit.

    Raises:
        ValueError: a bad argument.

    Example:

    >>> client = Client("127.0.0.1", 8500, model_name="deconvnet")
    >>> result = client.segment(image, boxes)   # uint8 [H, W, 3], [N, 4]
    >>> result["labels"].shape                  # (H, W)
    """

    def __init__(
        self,
        host="127.0.0.1",
        port=8500,
        model_name="deconvnet",
        protocol="grpc",
        version=None,
        timeout=60.0,
        max_message_bytes=DEFAULT_MAX_MESSAGE_BYTES,
    ):
        if protocol not in PROTOCOLS:
            raise ValueError(
                f"`protocol` must be one of {PROTOCOLS}. "
                f"Received: protocol={protocol!r}"
            )
        if timeout is None or timeout <= 0:
            raise ValueError(
                f"`timeout` must be a positive number of seconds. "
                f"Received: timeout={timeout!r}"
            )
        if version is not None and (not isinstance(version, int) or version < 1):
            raise ValueError(
                f"`version` must be a positive int or None. "
                f"Received: version={version!r}"
            )
        self.address = f"{host}:{port}"
        self.model_name = model_name
        self.protocol = protocol
        self.version = version
        self.timeout = float(timeout)
        self.max_message_bytes = int(max_message_bytes)
        self._channel = None
        self._stub = None
        self._signatures = None

    # gRPC ----------------------------------------------------------------

    def _grpc_stub(self):
        if self._stub is None:
            import grpc
            from tensorflow_serving.apis import prediction_service_pb2_grpc

            self._channel = grpc.insecure_channel(
                self.address,
                options=[
                    ("grpc.max_send_message_length", self.max_message_bytes),
                    ("grpc.max_receive_message_length", self.max_message_bytes),
                ],
            )
            self._stub = prediction_service_pb2_grpc.PredictionServiceStub(
                self._channel
            )
        return self._stub

    def _model_spec(self, spec, signature_name=None):
        spec.name = self.model_name
        if self.version is not None:
            spec.version.value = self.version
        if signature_name is not None:
            spec.signature_name = signature_name

    def _grpc_call(self, method, request):
        import grpc

        try:
            return method(request, timeout=self.timeout)
        except grpc.RpcError as error:
            raise ServingError(error.code().name, error.details()) from None

    def _predict_grpc(self, inputs, signature_name, outputs):
        import tensorflow as tf
        from tensorflow_serving.apis import predict_pb2

        request = predict_pb2.PredictRequest()
        self._model_spec(request.model_spec, signature_name)
        for name, value in inputs.items():
            request.inputs[name].CopyFrom(tf.make_tensor_proto(value))
        request.output_filter.extend(outputs or ())
        response = self._grpc_call(self._grpc_stub().Predict, request)
        return {
            name: tf.make_ndarray(proto)
            for name, proto in response.outputs.items()
        }

    # REST ----------------------------------------------------------------

    def _rest_url(self, suffix=""):
        url = f"http://{self.address}/v1/models/{self.model_name}"
        if self.version is not None:
            url += f"/versions/{self.version}"
        return url + suffix

    def _rest_call(self, url, body=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            url, data=data, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as reply:
                return json.loads(reply.read())
        except urllib.error.HTTPError as error:
            try:
                message = json.loads(error.read()).get("error", "")
            except ValueError:
                message = str(error)
            raise ServingError(
                _HTTP_CODES.get(error.code, f"HTTP_{error.code}"), message
            ) from None
        except (urllib.error.URLError, TimeoutError) as error:
            raise ServingError("UNAVAILABLE", f"{url}: {error}") from None

    def _predict_rest(self, inputs, signature_name, outputs):
        body = {
            "signature_name": signature_name,
            "inputs": {name: value.tolist() for name, value in inputs.items()},
        }
        reply = self._rest_call(self._rest_url(":predict"), body)
        values = reply["outputs"]
        if not isinstance(values, dict):
            # TF-Serving drops the name when a signature has one output.
            values = {"output": values}
        if self._signatures is None:
            self._signatures = self.signatures()
        declared = self._signatures.get(signature_name, {}).get("outputs", {})
        return {
            name: np.asarray(
                value, _NUMPY_DTYPES.get(declared.get(name, ("",))[0])
            )
            for name, value in values.items()
            if not outputs or name in outputs
        }

    # Public API ----------------------------------------------------------

    def predict(self, inputs, signature_name="serving_default", outputs=None):
        """Calls a signature with named NumPy inputs.

        Args:
            inputs: dict of input name -> array (sent with its dtype).
            signature_name: the signature to run.
            outputs: names of the outputs wanted (gRPC sends only those),
                or `None` for all.

        Returns:
            dict of output name -> NumPy array.

        Raises:
            ServingError: the server refused the request (e.g. code
                `"INVALID_ARGUMENT"` with the graph's check message).
        """
        inputs = {name: np.asarray(value) for name, value in inputs.items()}
        if self.protocol == "grpc":
            return self._predict_grpc(inputs, signature_name, outputs)
        return self._predict_rest(inputs, signature_name, outputs)

    def predict_crops(self, images, outputs=None):
        """Runs the network on crops: float32 `[batch, S, S, 3]` RGB 0-255.

        Returns:
            dict with `scores` `[batch, S, S, C]` and `labels` `[batch, S, S]`.
        """
        images = np.asarray(images, np.float32)
        return self.predict({"images": images}, "predict_crops", outputs)

    def segment(self, image, boxes, outputs=None):
        """Segments one image from its proposal boxes.

        Args:
            image: uint8 `[H, W, 3]` RGB image.
            boxes: `[N, 4]` boxes `[y1, x1, y2, x2]` in pixels.
            outputs: e.g. `("labels",)` to skip the `[H, W, C]` scores.

        Returns:
            dict with `labels` int32 `[H, W]` and `scores` `[H, W, C]`.

        Raises:
            ValueError: `image` is not uint8.
        """
        image = np.asarray(image)
        if image.dtype != np.uint8:
            raise ValueError(
                "`image` must be uint8 RGB pixels (as read from an image "
                f"file). Received: image.dtype={image.dtype}"
            )
        boxes = np.asarray(boxes, np.float32)
        return self.predict({"image": image, "boxes": boxes}, "segment", outputs)

    def class_names(self):
        """The model's class names, from the export's `metadata` signature.

        Returns:
            A tuple of `C` strings, one per score channel.

        Raises:
            ServingError: the server refused (e.g. `INVALID_ARGUMENT` for an
                export made before the `metadata` signature existed).
        """
        names = self.predict({}, "metadata", ("class_names",))["class_names"]
        return tuple(
            name.decode("utf-8") if isinstance(name, bytes) else str(name)
            for name in np.asarray(names).reshape(-1).tolist()
        )

    def signatures(self):
        """Lists the model's signatures (`GetModelMetadata`).

        Returns:
            dict of signature name -> `{"inputs": {name: (dtype, shape)},
            "outputs": {...}}`, dtypes as TensorFlow names (`"DT_FLOAT"`)
            and shapes with -1 for unknown sizes.
        """
        if self.protocol == "rest":
            reply = self._rest_call(self._rest_url("/metadata"))
            signature_defs = reply["metadata"]["signature_def"]["signature_def"]
            return {
                name: {
                    side: {
                        key: (
                            tensor["dtype"],
                            tuple(
                                int(dim["size"])
                                for dim in tensor["tensor_shape"].get("dim", [])
                            ),
                        )
                        # JSON omits empty maps (a signature without inputs).
                        for key, tensor in signature.get(side, {}).items()
                    }
                    for side in ("inputs", "outputs")
                }
                for name, signature in signature_defs.items()
            }
        from tensorflow.core.framework import types_pb2
        from tensorflow_serving.apis import get_model_metadata_pb2

        request = get_model_metadata_pb2.GetModelMetadataRequest()
        self._model_spec(request.model_spec)
        request.metadata_field.append("signature_def")
        response = self._grpc_call(self._grpc_stub().GetModelMetadata, request)
        signature_map = get_model_metadata_pb2.SignatureDefMap()
        response.metadata["signature_def"].Unpack(signature_map)
        return {
            name: {
                side: {
                    key: (
                        types_pb2.DataType.Name(tensor.dtype),
                        tuple(dim.size for dim in tensor.tensor_shape.dim),
                    )
                    for key, tensor in getattr(signature, side).items()
                }
                for side in ("inputs", "outputs")
            }
            for name, signature in signature_map.signature_def.items()
        }

    def close(self):
        if self._channel is not None:
            self._channel.close()
            self._channel = self._stub = None

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()
