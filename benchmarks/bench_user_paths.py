"""Benchmark: what a user gets, at the defaults and at the best settings.

The paper network's forward at `--paths-batch` crops, same weights, all
candidates timed in interleaved rounds of one run:
- `keras default`: `DeconvNet(...).predict_on_batch` as built (pooling
  layers `jit_compile="auto"`: XLA clusters in Keras' predict graph);
- `keras best fp32`: `optimize_for_inference` of it (BN folded, the
  decoder's transposed convolutions as convolutions and, on a CPU, the
  3x3 convolutions on 28x28 to 56x56 inputs as `WinogradConv2D`),
  `predict_on_batch`;
- `keras bf16`: `inference.forward.with_precision(model, "bfloat16")`
  (what `Segmenter(precision="bfloat16")` runs: `optimize_for_inference`
  without Winograd, bf16 weights and compute),
  `predict_on_batch`;
- `torch default`: `torch_reference.TorchDeconvNet`, NCHW, eager,
  `torch.no_grad()`;
- `torch best fp32`: channels-last and `torch.compile` (eager
  channels-last where compiling fails, named so);
- `torch bf16`: the same under `torch.autocast("cpu", torch.bfloat16)`.
Ratios are PyTorch's time over ours (above 1: ours is faster).
"""

import copy

import numpy as np

from common import Section
from common import ratio_row
from common import time_interleaved

NUM_CLASSES = 21
INPUT_SIZE = 224
# Targets of issue 14 (this package's time against PyTorch's).
TARGETS = {"default": 1.3, "best fp32": 1.5, "bf16": 1.2}


def _keras_candidates(width, images):
    from keras_deconvnet.inference.forward import with_precision
    from keras_deconvnet.models import DeconvNet
    from keras_deconvnet.models import optimize_for_inference

    model = DeconvNet(num_classes=NUM_CLASSES, width=width)
    folded = optimize_for_inference(model)
    bf16 = with_precision(model, "bfloat16")
    return model, {
        "keras default": lambda: model.predict_on_batch(images),
        "keras best fp32": lambda: folded.predict_on_batch(images),
        "keras bf16": lambda: bf16.predict_on_batch(images),
    }


def _torch_candidates(section, keras_model, width, images, compile_models):
    import torch

    from torch_reference import TorchDeconvNet
    from torch_reference import copy_keras_weights
    from torch_reference import inference_call

    default = TorchDeconvNet(NUM_CLASSES, width).eval()
    copy_keras_weights(default, keras_model)
    channels_last = copy.deepcopy(default).to(
        memory_format=torch.channels_last)
    nchw = torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2)))
    nhwc = nchw.contiguous(memory_format=torch.channels_last)
    best, best_name = channels_last, "channels_last eager"
    if compile_models:
        try:
            compiled = torch.compile(channels_last)
            with torch.no_grad():
                compiled(nhwc)
                with torch.autocast("cpu", dtype=torch.bfloat16):
                    compiled(nhwc)
            best, best_name = compiled, "channels_last + torch.compile"
        except Exception as error:  # noqa: BLE001 (any compiler failure)
            section.note(f"torch.compile failed, eager used: {error!r:.200}")
    section.note(f"PyTorch {torch.__version__}, best = {best_name}, "
                 f"{torch.get_num_threads()} threads")

    return {
        "torch default": inference_call(default, nchw),
        "torch best fp32": inference_call(best, nhwc),
        "torch bf16": inference_call(best, nhwc, bf16=True),
    }


def run(args, torch_available):
    section = Section("model: user paths")
    width, batch = args.width, args.paths_batch
    from keras_deconvnet.inference.forward import cpu_bf16_support

    section.note(f"bf16 support of this CPU: {cpu_bf16_support()}")
    images = np.random.default_rng(0).uniform(
        0, 255, (batch, INPUT_SIZE, INPUT_SIZE, 3)).astype("float32")
    model, candidates = _keras_candidates(width, images)
    if torch_available:
        candidates.update(_torch_candidates(
            section, model, width, images, not args.no_torch_compile))
    timings = time_interleaved(
        candidates, args.paths_repeats, 1,
        progress=lambda name: print(f"  {name}, batch {batch}", flush=True))
    section.add_timings(timings, {"phase": "forward", "batch": batch},
                        per_call_items=batch)
    if torch_available:
        for kind, target in TARGETS.items():
            ours = timings[f"keras {kind}"]["median_s"]
            theirs = timings[f"torch {kind}"]["median_s"]
            section.ratios.append(ratio_row(
                f"{kind}: torch {kind} time / keras {kind} time, batch "
                f"{batch}", theirs, ours, target))
    section.print_report(["phase", "batch", "name", "median_s", "min_s",
                          "max_s", "items_per_s"])
    return section
