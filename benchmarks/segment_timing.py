"""Per-image timing of the paper's inference, and aggregation memory.

Self-contained: builds DeconvNets with random weights (timings do not
depend on the weights), segments one sample photograph and prints the
seconds spent in each stage: EdgeBoxes proposals, crops + forward passes,
aggregation, dense CRF. With `--memory`, measures the peak resident memory
of `aggregate` for a few proposal counts on a 500x375 image, each count in
its own subprocess.

    python benchmarks/segment_timing.py --widths 1.0 0.125
    python benchmarks/segment_timing.py --memory --counts 10 200
"""

import argparse
import json
import os
import subprocess
import sys
import threading
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402


def sample_image(height=375, width=500):
    """scikit-image's astronaut photograph resized to VOC's usual size."""
    from PIL import Image
    from skimage import data

    picture = Image.fromarray(data.astronaut()).resize((width, height))
    return np.asarray(picture)


def time_width(width, image, args):
    import keras

    import keras_deconvnet
    from keras_deconvnet.inference import Segmenter

    keras.utils.set_random_seed(0)
    started = time.perf_counter()
    model = keras_deconvnet.DeconvNet(num_classes=21, width=width)
    build_seconds = time.perf_counter() - started
    segmenter = Segmenter(
        model,
        num_proposals=args.proposals,
        batch_size=args.batch_size,
        crf=True,
    )
    # Warm-up: traces the model and aggregate once (one crop).
    segmenter.scores(image, boxes=np.array([[0, 0, 64, 64]], np.float32))
    started = time.perf_counter()
    boxes = segmenter.proposals(image)
    proposal_seconds = time.perf_counter() - started
    segmenter.scores(image, boxes=boxes)
    timings = {
        **segmenter.last_timings,
        "proposals": proposal_seconds,
        "width": width,
        "parameters": model.count_params(),
        "build": build_seconds,
    }
    del model, segmenter
    keras.backend.clear_session()
    return timings


def measure_memory_child(count, height, width, crop_size, num_classes):
    """Peak RSS growth of one `aggregate` call (run in a fresh process)."""
    import tensorflow as tf

    from keras_deconvnet.inference import aggregate

    rng = np.random.default_rng(0)

    def inputs(n):
        maps = rng.normal(size=(n, crop_size, crop_size, num_classes))
        tops = rng.uniform(-50, height - 50, n)
        lefts = rng.uniform(-50, width - 50, n)
        sides = rng.uniform(112, 400, (n, 2))
        boxes = np.stack(
            [tops, lefts, tops + sides[:, 0], lefts + sides[:, 1]], -1
        )
        return tf.constant(maps, tf.float32), tf.constant(boxes, tf.float32)

    aggregate(*inputs(2), (height, width)).numpy()  # trace
    maps, boxes = inputs(count)

    def status(field):
        with open("/proc/self/status") as stream:
            for line in stream:
                if line.startswith(field):
                    return int(line.split()[1]) * 1024
        return None

    # Resident memory sampled every 2 ms while aggregate runs.
    samples = []
    running = threading.Event()
    running.set()

    def sample():
        while running.is_set():
            samples.append(status("VmRSS:"))
            time.sleep(0.002)

    tf.config.experimental.reset_memory_stats("CPU:0")
    tf_before = tf.config.experimental.get_memory_info("CPU:0")["current"]
    before = status("VmRSS:")
    sampler = threading.Thread(target=sample)
    sampler.start()
    started = time.perf_counter()
    aggregate(maps, boxes, (height, width)).numpy()
    seconds = time.perf_counter() - started
    running.clear()
    sampler.join()
    tf_peak = tf.config.experimental.get_memory_info("CPU:0")["peak"]
    print(
        json.dumps(
            {
                "proposals": count,
                "inputs_mb": maps.numpy().nbytes / 2**20,
                "rss_before_mb": before / 2**20,
                "rss_peak_growth_mb": (max(samples) - before) / 2**20,
                "tf_peak_growth_mb": (tf_peak - tf_before) / 2**20,
                "seconds": seconds,
            }
        )
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--widths", type=float, nargs="+", default=[1.0, 0.125])
    parser.add_argument("--proposals", type=int, default=50)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--memory", action="store_true", help="aggregate memory")
    parser.add_argument("--counts", type=int, nargs="+", default=[10, 200])
    parser.add_argument("--memory-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    height, width, crop_size, num_classes = 375, 500, 224, 21
    if args.memory_child:
        measure_memory_child(args.memory_child, height, width, crop_size, num_classes)
        return
    if args.memory:
        naive = height * width * num_classes * 4 / 2**20
        print(
            f"aggregate on a {width}x{height} image, {crop_size}x{crop_size} "
            f"maps, {num_classes} classes; one [H, W, C] float32 map is "
            f"{naive:.1f} MB, an [N, H, W, C] tensor would be N times that."
        )
        for count in args.counts:
            output = subprocess.run(
                [sys.executable, __file__, "--memory-child", str(count)],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            result = json.loads(output.strip().splitlines()[-1])
            print(
                f"N={count:4d}: inputs {result['inputs_mb']:.0f} MB; during "
                f"aggregate: TF allocator peak +{result['tf_peak_growth_mb']:.1f}"
                f" MB, process RSS peak +{result['rss_peak_growth_mb']:.1f} MB; "
                f"{result['seconds']:.2f} s"
            )
        return
    image = sample_image()
    print(
        f"One {image.shape[1]}x{image.shape[0]} image, {args.proposals} "
        f"proposals, batch {args.batch_size}, CPU threads: {os.cpu_count()}"
    )
    print("| width | parameters | proposals | crops+forward | aggregation | CRF | boxes |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for model_width in args.widths:
        t = time_width(model_width, image, args)
        print(
            f"| {t['width']} | {t['parameters']:,} | {t['proposals']:.2f} s "
            f"| {t['crops_and_forward']:.2f} s | {t['aggregation']:.2f} s "
            f"| {t['crf']:.2f} s | {t['num_boxes']} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
