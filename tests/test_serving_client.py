"""Serving client round trips against the test PredictionService server."""

import concurrent.futures
import os
import sys

import numpy as np
import pytest

import keras

pytest.importorskip("tensorflow_serving")

from keras_deconvnet.inference import Segmenter  # noqa: E402
from keras_deconvnet.serving import Client  # noqa: E402
from keras_deconvnet.serving import ServingError  # noqa: E402
from tests.conftest import requires_tensorflow  # noqa: E402
from tests.prediction_service_server import PredictionServiceServer  # noqa: E402
from tests.test_export_saved_model import CLASS_NAMES  # noqa: E402
from tests.test_export_saved_model import NUM_CLASSES  # noqa: E402
from tests.test_export_saved_model import exported_tiny_model  # noqa: E402

pytestmark = requires_tensorflow
MODEL_NAME = "deconvnet"


@pytest.fixture(scope="module")
def model():
    return exported_tiny_model()[0]


@pytest.fixture(scope="module")
def server():
    with PredictionServiceServer(MODEL_NAME, exported_tiny_model()[1]) as running:
        yield running


def client_for(server, protocol="grpc", **kwargs):
    port = server.grpc_port if protocol == "grpc" else server.rest_port
    return Client("127.0.0.1", port, MODEL_NAME, protocol=protocol, **kwargs)


@pytest.fixture(scope="module")
def grpc_client(server):
    with client_for(server) as client:
        yield client


def local_crops(model, images):
    scores = keras.ops.convert_to_numpy(model(images, training=False))
    return scores, scores.argmax(-1)


@pytest.mark.parametrize("protocol", ["grpc", "rest"])
def test_metadata_lists_the_signatures(server, protocol):
    with client_for(server, protocol) as client:
        signatures = client.signatures()
    assert {"serving_default", "predict_crops", "segment"} <= set(signatures)
    assert signatures["predict_crops"]["inputs"] == {
        "images": ("DT_FLOAT", (-1, 224, 224, 3))
    }
    assert signatures["segment"]["inputs"] == {
        "image": ("DT_UINT8", (-1, -1, 3)),
        "boxes": ("DT_FLOAT", (-1, 4)),
    }
    assert signatures["segment"]["outputs"] == {
        "labels": ("DT_INT32", (-1, -1)),
        "scores": ("DT_FLOAT", (-1, -1, NUM_CLASSES)),
    }


@pytest.mark.parametrize("protocol", ["grpc", "rest"])
def test_class_names_come_from_the_export(server, protocol):
    with client_for(server, protocol) as client:
        assert client.class_names() == CLASS_NAMES
        outputs = client.signatures()["metadata"]["outputs"]
    assert outputs == {"class_names": ("DT_STRING", (NUM_CLASSES,))}


@pytest.mark.parametrize("protocol", ["grpc", "rest"])
def test_predict_crops_round_trip_equals_the_local_model(
    model, server, protocol, rng
):
    batch = 3 if protocol == "grpc" else 1  # JSON is slow
    images = rng.uniform(0, 255, (batch, 224, 224, 3)).astype("float32")
    scores, labels = local_crops(model, images)
    with client_for(server, protocol) as client:
        result = client.predict_crops(images)
    assert result["labels"].dtype == np.int32
    np.testing.assert_array_equal(result["labels"], labels)
    np.testing.assert_allclose(result["scores"], scores, atol=1e-5, rtol=1e-5)


def test_segment_round_trip_equals_the_segmenter(model, server, grpc_client, rng):
    # 600x600x3 float32 scores are 4.3 MB: over gRPC's 4 MB default.
    image = rng.integers(0, 256, (600, 600, 3)).astype("uint8")
    boxes = np.array(
        [[0, 0, 600, 600], [50, 80, 400, 330], [-30, 300, 250, 640]],
        "float32",
    )
    result = grpc_client.segment(image, boxes)
    segmenter = Segmenter(model)
    np.testing.assert_array_equal(result["labels"], segmenter.segment(image, boxes))
    np.testing.assert_allclose(
        result["scores"], segmenter.scores(image, boxes), atol=1e-5, rtol=1e-5
    )
    only_labels = grpc_client.segment(image, boxes, outputs=("labels",))
    assert set(only_labels) == {"labels"}
    with client_for(server, max_message_bytes=1 << 20) as small:
        with pytest.raises(ServingError) as error:
            small.segment(image, boxes)
    assert error.value.code == "RESOURCE_EXHAUSTED"


IMAGE = np.zeros((40, 50, 3), "uint8")
BOX = np.array([[0, 0, 40, 50]], "float32")
BAD_REQUESTS = {
    "segment: channels": (
        "segment", {"image": np.zeros((40, 50, 4), "uint8"), "boxes": BOX},
        "must have 3 (RGB) channels",
    ),
    "segment: image rank": (
        "segment", {"image": IMAGE[None], "boxes": BOX}, "`image` must have rank 3"
    ),
    "segment: no boxes": (
        "segment", {"image": IMAGE, "boxes": BOX[:0]}, "`boxes` is empty"
    ),
    "segment: NaN box": (
        "segment",
        {"image": IMAGE, "boxes": np.array([[0, np.nan, 4, 4]], "float32")},
        "NaN or infinite",
    ),
    "segment: inverted box": (
        "segment",
        {"image": IMAGE, "boxes": np.array([[0, 0, 4, 4], [9, 0, 3, 4]], "float32")},
        "y2 > y1 and x2 > x1",
    ),
    "segment: boxes shape": (
        "segment", {"image": IMAGE, "boxes": np.zeros((2, 5), "float32")},
        "`boxes` must be [N, 4]",
    ),
    "segment: too large": (
        "segment", {"image": np.zeros((1001, 8, 3), "uint8"), "boxes": BOX},
        "larger than the bound of 1000",
    ),
    "segment: dtype": (
        "segment", {"image": IMAGE.astype("float32"), "boxes": BOX},
        "to be uint8",
    ),
    "crops: rank": (
        "predict_crops", {"images": np.zeros((224, 224, 3), "float32")},
        "`images` must have rank 4",
    ),
    "crops: size": (
        "predict_crops", {"images": np.zeros((1, 200, 224, 3), "float32")},
        "`images` must be [batch, 224, 224, 3]",
    ),
    "default: channels": (
        "serving_default", {"images": np.zeros((1, 224, 224, 1), "float32")},
        "`images` must be [batch, 224, 224, 3]",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_REQUESTS))
def test_bad_requests_are_invalid_argument_with_the_message(grpc_client, case):
    signature, inputs, message = BAD_REQUESTS[case]
    with pytest.raises(ServingError) as error:
        grpc_client.predict(inputs, signature)
    assert error.value.code == "INVALID_ARGUMENT"
    assert message in error.value.message


def test_bad_request_over_rest(server):
    with client_for(server, "rest") as client:
        with pytest.raises(ServingError) as error:
            client.segment(IMAGE, [[9, 0, 3, 4]])
    assert error.value.code == "INVALID_ARGUMENT"
    assert "y2 > y1 and x2 > x1" in error.value.message


def test_unknown_model_signature_and_deadline(server, grpc_client):
    with Client("127.0.0.1", server.grpc_port, model_name="nope") as client:
        with pytest.raises(ServingError) as error:
            client.signatures()
    assert error.value.code == "NOT_FOUND"
    with pytest.raises(ServingError) as error:
        grpc_client.predict({"images": np.zeros((1, 224, 224, 3), "float32")}, "x")
    assert error.value.code == "INVALID_ARGUMENT" and '"x" not found' in error.value.message
    with client_for(server, timeout=1e-4) as hurried:
        with pytest.raises(ServingError) as error:
            hurried.predict_crops(np.zeros((4, 224, 224, 3), "float32"))
    assert error.value.code == "DEADLINE_EXCEEDED"
    with pytest.raises(ValueError, match="uint8"):
        grpc_client.segment(IMAGE.astype("float32"), BOX)
    with pytest.raises(ValueError, match="protocol"):
        Client(protocol="http")


def test_concurrent_clients_all_get_their_own_answers(model, server, rng):
    images = rng.uniform(0, 255, (8, 224, 224, 3)).astype("float32")
    scores, labels = local_crops(model, images)

    def worker(thread):
        with client_for(server) as client:
            for request in range(25):
                index = (thread + request) % len(images)
                result = client.predict_crops(images[index : index + 1])
                np.testing.assert_array_equal(result["labels"][0], labels[index])
                np.testing.assert_allclose(
                    result["scores"][0], scores[index], atol=1e-5, rtol=1e-5
                )
        return 25

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        done = sum(pool.map(worker, range(8)))
    assert done == 200


def test_client_script_writes_the_label_png(server, grpc_client, tmp_path, rng):
    from PIL import Image

    image = rng.integers(0, 256, (120, 90, 3)).astype("uint8")
    Image.fromarray(image).save(tmp_path / "image.png")
    np.save(tmp_path / "boxes.npy", np.array([[10, 5, 110, 80]], "float32"))
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "serving"))
    try:
        import client as client_script
    finally:
        sys.path.pop(0)
    out = tmp_path / "label.png"
    argv = [
        str(tmp_path / "image.png"), "--port", str(server.grpc_port),
        "--model", MODEL_NAME, "--boxes", str(tmp_path / "boxes.npy"),
        "--out", str(out),
    ]
    assert client_script.main(argv) == 0
    written = Image.open(out)
    assert written.mode == "P"
    expected = grpc_client.segment(image, [[10, 5, 110, 80]])["labels"]
    np.testing.assert_array_equal(np.asarray(written), expected)


@pytest.mark.skipif(
    "TF_SERVING_GRPC" not in os.environ,
    reason="set TF_SERVING_GRPC=host:port (TF_SERVING_SEGMENT_GRPC, "
    "TF_SERVING_MODEL) to test a real TensorFlow Serving",
)
def test_real_tensorflow_serving():
    host, port = os.environ["TF_SERVING_GRPC"].rsplit(":", 1)
    name = os.environ.get("TF_SERVING_MODEL", MODEL_NAME)
    with Client(host, int(port), model_name=name) as client:
        signatures = client.signatures()
        assert {"serving_default", "predict_crops", "segment"} <= set(signatures)
        size = signatures["predict_crops"]["inputs"]["images"][1][1]
        crops = client.predict_crops(np.zeros((2, size, size, 3), "float32"))
        assert crops["labels"].shape == (2, size, size)
    # serving/docker-compose.yml serves `segment` from an unbatched server.
    segment_address = os.environ.get("TF_SERVING_SEGMENT_GRPC", f"{host}:{port}")
    host, port = segment_address.rsplit(":", 1)
    with Client(host, int(port), model_name=name) as client:
        image = np.zeros((300, 200, 3), "uint8")
        result = client.segment(image, [[0, 0, 300, 200], [10, 10, 150, 90]])
        assert result["labels"].shape == (300, 200)
        with pytest.raises(ServingError) as error:
            client.segment(image, np.zeros((0, 4), "float32"))
        assert error.value.code == "INVALID_ARGUMENT"
