"""Presets without network: small caffemodels served on 127.0.0.1.

The files carry the authors' file and layer names at width 1/16, written
by `write_caffemodel`; `KERAS_DECONVNET_PRESET_BASE_URL` points at a local
HTTP server. Full-width definitions are checked against the network specs
that `convert-caffe` validates.
"""

import collections
import hashlib
import http.server
import threading

import numpy as np
import pytest

import keras

import keras_deconvnet
from keras_deconvnet import caffe
from keras_deconvnet import palette
from keras_deconvnet.caffe.caffemodel_writer import prototxt_text
from keras_deconvnet.caffe.network_specs import deconvnet_layer_specs
from keras_deconvnet.caffe.network_specs import fcn8s_layer_specs
from keras_deconvnet.presets import PRESETS
from keras_deconvnet.presets import preset_model_dir
from tests.conftest import SMALL_WIDTH
from tests.test_caffe_reader import write_random

DECONVNET = PRESETS["deconvnet_voc"]
FCN = PRESETS["fcn8s_voc"]


class FileServer:
    """Serves `files` (name -> bytes) over HTTP on 127.0.0.1.

    `truncate[name] = n` cuts the next n responses of `name` to half.
    """

    def __init__(self, files):
        self.files = dict(files)
        self.requests = collections.Counter()
        self.truncate = collections.Counter()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                name = self.path.rsplit("/", 1)[-1]
                server.requests[name] += 1
                if name not in server.files:
                    self.send_error(404)
                    return
                data = server.files[name]
                if server.truncate[name]:
                    server.truncate[name] -= 1
                    data = data[: len(data) // 2]
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.http = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}/mirror"
        self.thread = threading.Thread(target=self.http.serve_forever,
                                       daemon=True)
        self.thread.start()

    def stop(self):
        self.http.shutdown()
        self.http.server_close()


def _files(directory, specs, preset, layer_format, seed=0):
    caffemodel = directory / preset.caffemodel.name
    write_random(caffemodel, specs, layer_format, seed=seed)
    prototxt = directory / preset.prototxt.name
    prototxt.write_text(prototxt_text(specs, layer_format))
    return caffemodel, prototxt


@pytest.fixture(scope="module")
def authors_files(tmp_path_factory):
    """Small files under the authors' names: DeconvNet (V1 layout, like
    the release) and FCN-8s (new layout), 21 VOC classes."""
    directory = tmp_path_factory.mktemp("authors")
    deconvnet = _files(directory, deconvnet_layer_specs(21, SMALL_WIDTH),
                       DECONVNET, "V1")
    fcn = _files(directory, fcn8s_layer_specs(21, SMALL_WIDTH), FCN, "layer")
    return {"deconvnet": deconvnet, "fcn8s": fcn}


@pytest.fixture
def server(authors_files, tmp_path, monkeypatch):
    files = {path.name: path.read_bytes()
             for pair in authors_files.values() for path in pair}
    running = FileServer(files)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    monkeypatch.setenv("KERAS_DECONVNET_MODELS", str(tmp_path / "models"))
    monkeypatch.setenv("KERAS_DECONVNET_PRESET_BASE_URL", running.url)
    yield running
    running.stop()


def no_conversion(*args, **kwargs):
    raise AssertionError("converted again")


def images(size=(224, 224), seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 255, (1,) + size + (3,)).astype("float32")


@pytest.mark.slow
def test_first_call_downloads_and_converts_then_the_cache_serves(
        server, authors_files, tmp_path, monkeypatch):
    caffemodel, prototxt = authors_files["deconvnet"]
    model = keras_deconvnet.load("deconvnet_voc")
    reference = caffe.convert_caffe_model(caffemodel, prototxt)
    np.testing.assert_array_equal(model.predict(images(), verbose=0),
                                  reference.predict(images(), verbose=0))
    info = keras_deconvnet.metadata(model)
    assert info["class_names"] == list(palette.VOC_CLASSES)
    assert (info["ignore_label"], info["source"]) == (255, "preset")
    recorded = info["preset"]["files"][DECONVNET.caffemodel.name]
    assert recorded["sha256"] == hashlib.sha256(
        caffemodel.read_bytes()).hexdigest()
    assert recorded["url"] == f"{server.url}/{DECONVNET.caffemodel.name}"
    assert server.requests == {DECONVNET.caffemodel.name: 1,
                               DECONVNET.prototxt.name: 1}
    cache = tmp_path / "keras_home" / "keras_deconvnet" / "deconvnet_voc"
    assert not (cache / DECONVNET.caffemodel.name).exists()  # converted
    assert sorted(p.name for p in (cache / "model").iterdir()) == [
        "config.json", "metadata.json", "model.weights.h5"]

    # Later calls: no download, no conversion.
    monkeypatch.setattr(caffe, "convert_caffe_model", no_conversion)
    again = keras_deconvnet.DeconvNet(weights="pascal_voc")
    assert sum(server.requests.values()) == 2
    np.testing.assert_array_equal(again.predict(images(), verbose=0),
                                  reference.predict(images(), verbose=0))
    # The preset call is what load() without arguments opens now.
    assert keras_deconvnet.load().get_layer("conv1_1").kernel.shape == (
        3, 3, 3, 4)
    # Another input size keeps the weights.
    larger = keras_deconvnet.DeconvNet(weights="pascal_voc",
                                       input_shape=(256, 256, 3))
    assert larger.output_shape == (None, 256, 256, 21)
    assert keras_deconvnet.metadata(larger)["source"] == "preset"
    with pytest.raises(ValueError, match="num_classes=21"):
        keras_deconvnet.DeconvNet(weights="pascal_voc", num_classes=11)


def test_truncated_download_is_detected_and_fetched_again(server, capsys):
    server.truncate[DECONVNET.caffemodel.name] = 1
    model = keras_deconvnet.load("deconvnet_voc")
    assert server.requests[DECONVNET.caffemodel.name] == 2
    assert "truncated" in capsys.readouterr().out
    assert model.output_shape == (None, 224, 224, 21)


def test_offline_error_names_url_cache_and_local_files(server, tmp_path):
    server.stop()
    with pytest.raises(ConnectionError) as error:
        keras_deconvnet.load("deconvnet_voc")
    message = str(error.value)
    assert f"{server.url}/{DECONVNET.prototxt.name}" in message
    assert str(tmp_path / "keras_home" / "keras_deconvnet") in message
    assert "caffemodel='path/to/" in message


def test_checksum_mismatch_on_a_new_download(server, tmp_path):
    keras_deconvnet.load("deconvnet_voc")
    # The converted model is lost and the server now serves another file.
    import shutil

    shutil.rmtree(preset_model_dir("deconvnet_voc"))
    other = tmp_path / "other.caffemodel"
    write_random(other, deconvnet_layer_specs(21, SMALL_WIDTH), "V1", seed=1)
    server.files[DECONVNET.caffemodel.name] = other.read_bytes()
    with pytest.raises(ValueError, match="sha256 .* but .* was expected"):
        keras_deconvnet.load("deconvnet_voc")
    assert server.requests[DECONVNET.caffemodel.name] == 3  # one retry


def test_local_files_need_no_network(authors_files, tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    monkeypatch.setenv("KERAS_DECONVNET_PRESET_BASE_URL", "http://127.0.0.1:9")
    caffemodel, prototxt = authors_files["fcn8s"]
    model = keras_deconvnet.load("fcn8s_voc", caffemodel=caffemodel,
                                 prototxt=prototxt)
    assert model.get_layer("conv1_1_pad") is not None  # Caffe geometry
    # FCN8s(weights=...) now opens the cache: the same network.
    cached = keras_deconvnet.FCN8s(weights="pascal_voc")
    picture = images((61, 83))
    assert cached.predict(picture, verbose=0).shape == (1, 61, 83, 21)
    np.testing.assert_array_equal(cached.predict(picture, verbose=0),
                                  model.predict(picture, verbose=0))
    with pytest.raises(ValueError, match="both local files"):
        keras_deconvnet.load("fcn8s_voc", caffemodel=caffemodel)
    with pytest.raises(ValueError, match="Unknown preset"):
        keras_deconvnet.presets.load_preset("segnet_camvid")


@pytest.mark.slow
def test_the_papers_best_pipeline_in_one_call(server):
    pytest.importorskip("tensorflow")
    pytest.importorskip("pydensecrf")
    from keras_deconvnet.inference import Segmenter

    segmenter = Segmenter.from_preset("edeconvnet_crf_voc", batch_size=8)
    assert (segmenter.num_proposals, segmenter.aggregation,
            segmenter.ensemble, segmenter.crf) == (50, "max", "product", True)
    assert segmenter.fcn.get_layer("conv1_1_pad") is not None
    assert server.requests[FCN.caffemodel.name] == 1
    image = np.random.default_rng(0).integers(0, 256, (96, 128, 3), np.uint8)
    labels = segmenter.segment(image)
    assert labels.shape == (96, 128) and 0 <= labels.min() <= labels.max() < 21
    assert {"fcn", "crf"} <= set(segmenter.last_timings)
    with pytest.raises(ValueError, match="Unknown pipeline"):
        Segmenter.from_preset("segnet")


def test_definitions_name_the_authors_files():
    assert keras_deconvnet.list_presets().keys() == {"deconvnet_voc",
                                                     "fcn8s_voc"}
    assert DECONVNET.caffemodel.url == (
        "http://cvlab.postech.ac.kr/research/deconvnet/model/DeconvNet/"
        "DeconvNet_trainval_inference.caffemodel")
    assert DECONVNET.prototxt.name == "DeconvNet_inference_deploy.prototxt"
    assert FCN.caffemodel.url == (
        "http://dl.caffe.berkeleyvision.org/fcn8s-heavy-pascal.caffemodel")
    assert FCN.prototxt.url.endswith("/voc-fcn8s/deploy.prototxt")


def _caffe_shape(layer):
    """The Caffe blob-0 shape of a Keras layer's weights."""
    if isinstance(layer, keras.layers.BatchNormalization):
        return (1, layer.gamma.shape[0], 1, 1)
    kh, kw, a, b = layer.kernel.shape
    return (b, a, kh, kw)  # conv [out, in, ..], deconv [in, out, ..]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["deconvnet_voc", "fcn8s_voc"])
def test_full_width_definitions_match_the_authors_prototxt(name):
    """Every weighted layer of the deploy file (the specs the converter
    validates) fills a Keras layer of the same shape, and back."""
    from keras_deconvnet.caffe import layer_map
    from keras_deconvnet.caffe.fcn8s_caffe import FCN8sCaffe

    preset = PRESETS[name]
    if preset.architecture == "deconvnet":
        specs = deconvnet_layer_specs(21, 1.0)
        model = keras_deconvnet.DeconvNet(num_classes=21)
        mappings = layer_map.deconvnet_layer_map()
    else:
        specs = fcn8s_layer_specs(21, 1.0)
        model = FCN8sCaffe(num_classes=21)
        mappings = layer_map.fcn8s_layer_map()
    weighted = {spec.name: spec for spec in specs if spec.blob_shapes}
    assert {m.caffe_names[0] for m in mappings} == set(weighted)
    assert {m.keras_name for m in mappings} == {
        layer.name for layer in model.layers if layer.weights}
    for mapping in mappings:
        spec = weighted[mapping.caffe_names[0]]
        assert _caffe_shape(model.get_layer(mapping.keras_name)) == tuple(
            spec.blob_shapes[0]), mapping.keras_name
    if name == "deconvnet_voc":  # the paper's count
        assert sum(int(np.prod(w.shape))
                   for w in model.trainable_weights) == 251_805_653
