"""Benchmark: the paper network on the TensorFlow backend against PyTorch.

Forward crops/s at each `--batch-sizes` and a training step (SGD momentum
0.9, softmax cross-entropy) at `--train-batch-size`, for:

- `tf graph`: `tf.function` of `model(x, training=False)` (Grappler and
  oneDNN fuse Conv2D + BiasAdd + FusedBatchNorm + ReLU themselves);
- `tf xla`: the same under `jit_compile=True`;
- `tf graph + xla pooling`: the plain graph, with only the pooling and
  unpooling layers compiled by XLA (`pooling_compiled_with_xla`);
- `tf folded ...`: the same three for the model returned by
  `fold_batch_norm` (BN merged into the convolutions and deconvolutions);
- `torch` / `torch channels_last`: `torch_reference.TorchDeconvNet` with
  the same weights (copied from the Keras model), eager, under
  `torch.inference_mode()` for the forward.

All candidates of one batch size are timed in interleaved rounds, so the
ratio best-TF / best-PyTorch is measured in the same run. Beyond the first
batch size, the whole-model XLA variants and NCHW `torch` are left out
(they were the slowest of their framework at batch 1 and 8 in our runs;
XLA's CPU convolutions are slower than oneDNN's), to keep
`run.py all` within 15 minutes.
"""

import contextlib
import copy
import time

import numpy as np

from common import Section
from common import ratio_row
from common import rss_mib
from common import time_interleaved

TARGET_FORWARD_RATIO = 1.2
SMALL_BATCH_ONLY = ("tf folded xla", "tf xla", "torch")
NUM_CLASSES = 21
INPUT_SIZE = 224


@contextlib.contextmanager
def pooling_compiled_with_xla(model):
    """While tracing, runs the model's (un)pooling layers as XLA clusters.

    A plain `tf.function` keeps oneDNN's convolutions (faster on CPU than
    XLA's), but runs the switch and unpooling ops one by one; a nested
    `tf.function(jit_compile=True)` fuses just those. A prototype for the
    layers (the traced graph keeps the XLA clusters after the `with`).
    """
    import tensorflow as tf

    from keras_deconvnet.layers import MaxPoolingWithArgmax2D
    from keras_deconvnet.layers import MaxUnpooling2D

    layers = [layer for layer in model.layers if isinstance(
        layer, (MaxPoolingWithArgmax2D, MaxUnpooling2D))]
    for layer in layers:  # an instance attribute shadows the method
        layer.call = tf.function(layer.call, jit_compile=True,
                                 autograph=False)
    try:
        yield
    finally:
        for layer in layers:
            del layer.call


def _tensorflow_forward_candidates(model, folded, images):
    import tensorflow as tf

    candidates = {}
    for name, network in (("tf", model), ("tf folded", folded)):
        for mode, jit in (("graph", False), ("xla", True),
                          ("graph + xla pooling", False)):
            function = tf.function(
                lambda x, network=network: network(x, training=False),
                jit_compile=jit,
            )
            if mode == "graph + xla pooling":
                with pooling_compiled_with_xla(network):
                    function.get_concrete_function(images)
            candidates[f"{name} {mode}"] = (
                lambda function=function: function(images)
            )
    return candidates


def _torch_forward_candidates(torch_models, images):
    import torch

    nchw = torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2)))
    channels_last = nchw.contiguous(memory_format=torch.channels_last)

    def forward(network, inputs):
        def call():
            with torch.inference_mode():
                return network(inputs)

        return call

    return {
        "torch": forward(torch_models["nchw"], nchw),
        "torch channels_last": forward(
            torch_models["channels_last"], channels_last
        ),
    }


def _tensorflow_train_candidates(model, images, labels, use_xla):
    import keras
    import tensorflow as tf

    loss_function = keras.losses.SparseCategoricalCrossentropy(
        from_logits=True
    )
    # One optimizer for all variants: its momentum slots are another 1 GB
    # for the paper network (a run with one per variant was OOM-killed).
    optimizer = keras.optimizers.SGD(learning_rate=1e-6, momentum=0.9)
    optimizer.build(model.trainable_variables)
    candidates = {}
    for mode, jit in (("graph", False), ("xla", True),
                      ("graph + xla pooling", False)):
        if jit and not use_xla:
            continue

        def step(x, y):
            with tf.GradientTape() as tape:
                loss = loss_function(y, model(x, training=True))
            gradients = tape.gradient(loss, model.trainable_variables)
            optimizer.apply(gradients, model.trainable_variables)
            return loss

        function = tf.function(step, jit_compile=jit)
        if mode == "graph + xla pooling":
            with pooling_compiled_with_xla(model):
                function.get_concrete_function(images, labels)
        candidates[f"tf train {mode}"] = (
            lambda function=function: function(images, labels).numpy()
        )
    return candidates


def _torch_train_candidates(torch_model, images, labels):
    import torch

    inputs = torch.from_numpy(
        np.ascontiguousarray(images.transpose(0, 3, 1, 2))
    ).contiguous(memory_format=torch.channels_last)
    targets = torch.from_numpy(labels.astype("int64"))
    optimizer = torch.optim.SGD(
        torch_model.parameters(), lr=1e-6, momentum=0.9
    )
    loss_function = torch.nn.CrossEntropyLoss()

    torch_model.train()

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss = loss_function(torch_model(inputs), targets)
        loss.backward()
        optimizer.step()
        return loss.item()

    return {"torch train channels_last": step}


def run(args, torch_available):
    import keras

    from keras_deconvnet.models import DeconvNet
    from keras_deconvnet.models import fold_batch_norm

    section = Section("model")
    rng = np.random.default_rng(0)
    resident = rss_mib()
    started = time.perf_counter()
    model = DeconvNet(num_classes=NUM_CLASSES, width=args.width)
    section.note(
        f"DeconvNet width {args.width}: {model.count_params():,} parameters, "
        f"built in {time.perf_counter() - started:.1f} s, "
        f"RSS +{rss_mib() - resident:.0f} MiB"
    )
    started = time.perf_counter()
    folded = fold_batch_norm(model)
    section.note(
        f"fold_batch_norm: {len(model.layers)} -> {len(folded.layers)} "
        f"layers in {time.perf_counter() - started:.1f} s"
    )
    torch_model = None
    if torch_available:
        import torch

        from torch_reference import TorchDeconvNet
        from torch_reference import copy_keras_weights

        resident = rss_mib()
        torch_model = TorchDeconvNet(NUM_CLASSES, args.width).eval()
        copy_keras_weights(torch_model, model)
        # A second copy in channels-last layout (NHWC in memory), which
        # oneDNN often prefers; switching one model per call would time
        # the 1 GB weight conversion.
        torch_models = {
            "nchw": torch_model,
            "channels_last": copy.deepcopy(torch_model).to(
                memory_format=torch.channels_last
            ),
        }
        section.note(
            f"PyTorch {torch.__version__} reference, "
            f"{torch.get_num_threads()} threads, same weights, "
            f"RSS +{rss_mib() - resident:.0f} MiB"
        )
    else:
        section.note("PyTorch not used (not installed, or --no-torch): "
                     "reference not available")

    for batch_size in args.batch_sizes:
        images = rng.uniform(
            0, 255, (batch_size, INPUT_SIZE, INPUT_SIZE, 3)
        ).astype("float32")
        candidates = _tensorflow_forward_candidates(model, folded, images)
        if torch_model is not None:
            candidates.update(_torch_forward_candidates(torch_models, images))
        if batch_size == args.batch_sizes[0]:
            _check_agreement(section, candidates)
        else:
            # Larger batches take seconds per call: time only the variants
            # that were not the slowest of their framework at batch 1 in
            # our runs (XLA + folding, and NCHW PyTorch, were).
            for name in SMALL_BATCH_ONLY:
                candidates.pop(name, None)
        # Calls of a second or more: 3 rounds give a stable median.
        repeats = args.repeats if batch_size == 1 else min(args.repeats, 3)
        timings = time_interleaved(
            candidates, repeats, args.warmup,
            progress=lambda name: print(f"  forward {name}, batch "
                                        f"{batch_size}", flush=True),
        )
        section.add_timings(
            timings, {"phase": "forward", "batch": batch_size},
            per_call_items=batch_size,
        )
        _add_best_ratio(section, timings, f"forward, batch {batch_size}",
                        TARGET_FORWARD_RATIO)
    del folded
    if torch_model is not None:
        torch_model = torch_models.pop("channels_last")
        del torch_models

    if not args.no_training:
        _time_training(section, args, model, torch_model, rng)
    keras.backend.clear_session()
    section.print_report(
        ["phase", "batch", "name", "median_s", "min_s", "max_s",
         "items_per_s", "warmup_peak_extra_mib"]
    )
    return section


def _time_training(section, args, model, torch_model, rng):
    batch_size = args.train_batch_size
    images = rng.uniform(
        0, 255, (batch_size, INPUT_SIZE, INPUT_SIZE, 3)
    ).astype("float32")
    labels = rng.integers(0, NUM_CLASSES, (batch_size, INPUT_SIZE, INPUT_SIZE))
    labels = labels.astype("int32")
    candidates = _tensorflow_train_candidates(
        model, images, labels, use_xla=not args.no_xla_training
    )
    if torch_model is not None:
        candidates.update(_torch_train_candidates(torch_model, images, labels))
    timings = time_interleaved(
        candidates, 2, 1,  # calls of 10-40 s: 2 rounds after 1 warm-up
        progress=lambda name: print(f"  {name}, batch {batch_size}",
                                    flush=True),
    )
    section.add_timings(
        timings, {"phase": "train step", "batch": batch_size},
        per_call_items=batch_size,
    )
    _add_best_ratio(section, timings, f"train step, batch {batch_size}")


def _check_agreement(section, candidates):
    """Notes the largest difference between the candidates' outputs."""
    outputs = {}
    for name, call in candidates.items():
        result = call()
        if hasattr(result, "detach"):
            result = result.detach().float().numpy().transpose(0, 2, 3, 1)
        outputs[name] = np.asarray(result)
    reference = outputs["tf graph"]
    scale = float(np.abs(reference).max()) or 1.0
    summary = []
    for name, output in outputs.items():
        difference = np.abs(output - reference) / scale
        agreement = np.mean(output.argmax(-1) == reference.argmax(-1))
        summary.append(
            f"{name}: max {difference.max():.1e}, median "
            f"{np.median(difference):.1e}, labels {100 * agreement:.2f}%"
        )
    # A value that is nearly tied inside a pooling window can go to either
    # position with float32 rounding, so a few pixels may differ.
    section.note(
        "|output - tf graph| / max |tf graph| and argmax agreement: "
        + "; ".join(summary)
    )


def _add_best_ratio(section, timings, label, target=None):
    tensorflow = [t["median_s"] for n, t in timings.items()
                  if n.startswith("tf")]
    pytorch = [t["median_s"] for n, t in timings.items()
               if n.startswith("torch")]
    if tensorflow and pytorch:
        section.ratios.append(
            ratio_row(f"best TF / best PyTorch speed, {label}",
                      min(pytorch), min(tensorflow), target)
        )
