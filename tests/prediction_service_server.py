"""A test stand-in for TensorFlow Serving, on 127.0.0.1 (TensorFlow only).

The `tensorflow_model_server` binary is not installable here, so the tests
run this: a gRPC `PredictionService` (`Predict`, `GetModelMetadata`) and
the REST `:predict` / `metadata` endpoints, serving every numeric version
under a SavedModel base path the way TF-Serving does:

- request tensors arrive as `TensorProto`s and are fed to the signature by
  input name, after checking names and dtypes only: TF-Serving does not
  check shapes against the signature (tensorflow/serving#1527), so the
  graph's own checks are what reject a badly shaped request;
- graph errors come back with their gRPC status code and message
  (`INVALID_ARGUMENT` for failed assertions), unknown models `NOT_FOUND`;
- outputs go back as `TensorProto`s, filtered by `output_filter`.
"""

import http.server
import json
import os
import re
import threading
from concurrent import futures

import grpc
import numpy as np
import tensorflow as tf
from google.protobuf import json_format
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow_serving.apis import get_model_metadata_pb2
from tensorflow_serving.apis import prediction_service_pb2_grpc

MAX_MESSAGE_BYTES = 512 * 1024 * 1024


class ServingFailure(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


def _signature_defs(version_dir):
    saved_model = saved_model_pb2.SavedModel()
    with open(os.path.join(version_dir, "saved_model.pb"), "rb") as file:
        saved_model.ParseFromString(file.read())
    return saved_model.meta_graphs[0].signature_def


class ServedModel:
    """Every version of one SavedModel base path, loaded."""

    def __init__(self, name, base_path):
        self.name = name
        versions = sorted(
            int(entry)
            for entry in os.listdir(base_path)
            if re.fullmatch(r"\d+", entry)
        )
        if not versions:
            raise ValueError(f"No numeric version folder under {base_path}")
        self.versions = {}
        for version in versions:
            path = os.path.join(base_path, str(version))
            self.versions[version] = (
                tf.saved_model.load(path),
                _signature_defs(path),
            )

    def resolve(self, model_name, version=None):
        if model_name != self.name:
            raise ServingFailure(
                grpc.StatusCode.NOT_FOUND,
                f"Servable not found for request: Latest({model_name})",
            )
        version = version or max(self.versions)
        if version not in self.versions:
            raise ServingFailure(
                grpc.StatusCode.NOT_FOUND,
                f"Servable not found for request: "
                f"Specific({model_name}, {version})",
            )
        return version, *self.versions[version]

    def run(self, model_name, version, signature_name, inputs, output_filter):
        """Runs a signature on NumPy `inputs`; returns `(version, outputs)`."""
        version, loaded, _ = self.resolve(model_name, version)
        signature_name = signature_name or "serving_default"
        if signature_name not in loaded.signatures:
            raise ServingFailure(
                grpc.StatusCode.INVALID_ARGUMENT,
                f'Serving signature name: "{signature_name}" not found in '
                "signature def",
            )
        function = loaded.signatures[signature_name]
        specs = tf.nest.flatten(function.structured_input_signature)
        expected = {spec.name: spec for spec in specs}
        if set(inputs) != set(expected):
            raise ServingFailure(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"input tensor names {sorted(inputs)} do not match the "
                f"signature {signature_name!r}: {sorted(expected)}",
            )
        flat = []
        for spec in specs:
            value = inputs[spec.name]
            if value.dtype != spec.dtype.as_numpy_dtype:
                raise ServingFailure(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"Expects arg {spec.name!r} to be {spec.dtype.name} but "
                    f"{value.dtype} is provided",
                )
            flat.append(tf.constant(value))
        unknown = set(output_filter) - set(function.structured_outputs)
        if unknown:
            raise ServingFailure(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"output tensor alias not found in signature: {sorted(unknown)}",
            )
        try:
            # Fed without the Python-side shape check, as TF-Serving feeds.
            outputs = function._call_flat(flat, function.captured_inputs)
        except tf.errors.OpError as error:
            raise ServingFailure(
                _status_code(error), error.message
            ) from None
        wanted = output_filter or list(outputs)
        return version, {name: outputs[name].numpy() for name in wanted}

    def signature_map(self, model_name, version=None):
        version, _, signature_defs = self.resolve(model_name, version)
        signature_map = get_model_metadata_pb2.SignatureDefMap()
        for name, signature in signature_defs.items():
            if name != "__saved_model_init_op":
                signature_map.signature_def[name].CopyFrom(signature)
        return version, signature_map


def _status_code(error):
    """The gRPC status code of a TensorFlow error (same canonical codes)."""
    for code in grpc.StatusCode:
        if code.value[0] == error.error_code:
            return code
    return grpc.StatusCode.INTERNAL


class PredictionServicer(prediction_service_pb2_grpc.PredictionServiceServicer):
    def __init__(self, served_model):
        self.served_model = served_model

    def Predict(self, request, context):
        from tensorflow_serving.apis import predict_pb2

        try:
            inputs = {
                name: tf.make_ndarray(proto)
                for name, proto in request.inputs.items()
            }
            version, outputs = self.served_model.run(
                request.model_spec.name,
                request.model_spec.version.value or None,
                request.model_spec.signature_name,
                inputs,
                list(request.output_filter),
            )
        except ServingFailure as failure:
            context.abort(failure.code, failure.message)
        response = predict_pb2.PredictResponse()
        response.model_spec.name = request.model_spec.name
        response.model_spec.version.value = version
        response.model_spec.signature_name = (
            request.model_spec.signature_name or "serving_default"
        )
        for name, value in outputs.items():
            response.outputs[name].CopyFrom(tf.make_tensor_proto(value))
        return response

    def GetModelMetadata(self, request, context):
        if list(request.metadata_field) != ["signature_def"]:
            context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                "Metadata field signature_def is the only one supported",
            )
        try:
            version, signature_map = self.served_model.signature_map(
                request.model_spec.name, request.model_spec.version.value or None
            )
        except ServingFailure as failure:
            context.abort(failure.code, failure.message)
        response = get_model_metadata_pb2.GetModelMetadataResponse()
        response.model_spec.name = request.model_spec.name
        response.model_spec.version.value = version
        response.metadata["signature_def"].Pack(signature_map)
        return response


_HTTP_STATUS = {
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.INTERNAL: 500,
}
_REST_PATH = re.compile(
    r"^/v1/models/(?P<name>[^/:]+)(?:/versions/(?P<version>\d+))?"
    r"(?P<verb>:predict|/metadata)$"
)


def _json_values(array):
    """Nested lists for JSON; strings as UTF-8 text, as TF-Serving's REST."""
    if array.dtype.kind in ("S", "O"):
        return np.vectorize(
            lambda item: item.decode("utf-8"), otypes=[object]
        )(array).tolist()
    return array.tolist()


def _rest_handler(served_model):
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):  # Quiet test output.
            pass

        def _reply(self, status, body):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _route(self, verb):
            match = _REST_PATH.match(self.path)
            if not match or match["verb"] != verb:
                self._reply(404, {"error": f"Malformed request: {self.path}"})
                return None
            return match["name"], int(match["version"] or 0) or None

        def do_GET(self):
            route = self._route("/metadata")
            if route is None:
                return
            try:
                version, signature_map = served_model.signature_map(*route)
            except ServingFailure as failure:
                self._reply(_HTTP_STATUS.get(failure.code, 500), {"error": failure.message})
                return
            self._reply(
                200,
                {
                    "model_spec": {"name": route[0], "version": str(version)},
                    "metadata": {
                        "signature_def": json_format.MessageToDict(
                            signature_map, preserving_proto_field_name=True
                        )
                    },
                },
            )

        def do_POST(self):
            route = self._route(":predict")
            if route is None:
                return
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            signature_name = body.get("signature_name", "serving_default")
            try:
                _, loaded, _ = served_model.resolve(*route)
                if signature_name not in loaded.signatures:
                    raise ServingFailure(
                        grpc.StatusCode.INVALID_ARGUMENT,
                        f'Serving signature name: "{signature_name}" not found',
                    )
                specs = tf.nest.flatten(
                    loaded.signatures[signature_name].structured_input_signature
                )
                dtypes = {spec.name: spec.dtype.as_numpy_dtype for spec in specs}
                # JSON numbers take the signature's dtype, as in TF-Serving.
                inputs = {
                    name: np.asarray(value, dtypes.get(name))
                    for name, value in body["inputs"].items()
                }
                _, outputs = served_model.run(
                    *route, signature_name, inputs, []
                )
            except ServingFailure as failure:
                self._reply(_HTTP_STATUS.get(failure.code, 500), {"error": failure.message})
                return
            self._reply(
                200, {"outputs": {k: _json_values(v) for k, v in outputs.items()}}
            )

    return Handler


class PredictionServiceServer:
    """gRPC and REST servers for one model, on free ports of 127.0.0.1.

    Example:

    >>> with PredictionServiceServer("deconvnet", "saved_models/deconvnet") as server:
    ...     client = Client("127.0.0.1", server.grpc_port)
    """

    def __init__(self, model_name, base_path, max_workers=8):
        self.served_model = ServedModel(model_name, base_path)
        self._grpc = grpc.server(
            futures.ThreadPoolExecutor(max_workers=max_workers),
            options=[
                ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
                ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ],
        )
        prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
            PredictionServicer(self.served_model), self._grpc
        )
        self.grpc_port = self._grpc.add_insecure_port("127.0.0.1:0")
        self._http = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), _rest_handler(self.served_model)
        )
        self.rest_port = self._http.server_address[1]
        self._http_thread = threading.Thread(
            target=self._http.serve_forever, daemon=True
        )

    def start(self):
        self._grpc.start()
        self._http_thread.start()
        return self

    def stop(self):
        self._grpc.stop(grace=None)
        self._http.shutdown()
        self._http.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()
