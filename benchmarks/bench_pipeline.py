"""Benchmark: the tf.data training pipeline against the training step.

Stage-1 (`crops="objects"`) and stage-2 (`crops="proposals"`) examples/s of
`keras_deconvnet.data.training_dataset` alone on the generated synthetic
VOC dataset, against the examples/s a training step consumes at the same
batch size and width (on constant tensors), and the training step fed by
the stage-1 pipeline (both share the CPU, as in real training). Stage-2
proposals are computed once before timing (the pipeline caches them).
"""

import tempfile
import time

import numpy as np

from common import Section
from common import ratio_row
from common import time_interleaved

# Long samples, so a prefetch buffer filled between them hardly counts.
BATCHES_PER_SAMPLE = 16
NUM_IMAGES = 24


def run(args, torch_available):
    section = Section("pipeline")
    try:
        from keras_deconvnet.data import load_source
        from keras_deconvnet.data import training_dataset
        from keras_deconvnet.data import write_synthetic_voc
    except ImportError as error:
        section.available = False
        section.note(f"not available ({error})")
        section.print_report([])
        return section

    import bench_model
    from keras_deconvnet.models import DeconvNet

    batch_size = args.train_batch_size
    timings = {}
    with tempfile.TemporaryDirectory() as directory:
        write_synthetic_voc(directory, num_train=NUM_IMAGES, num_val=1)
        source = load_source("synthetic", directory, "train")

        def dataset_of(crops):
            return training_dataset(
                source, crops=crops, batch_size=batch_size, seed=0,
                progress=False,
            )

        # Each pipeline alone, in its own block (not interleaved): its
        # prefetch buffer would otherwise fill while the others run.
        for stage, crops in (("stage 1", "objects"),
                             ("stage 2", "proposals")):
            started = time.perf_counter()
            dataset = dataset_of(crops)
            section.note(
                f"{stage} ({crops}): {dataset.crop_count} crops from "
                f"{NUM_IMAGES} images, set up in "
                f"{time.perf_counter() - started:.1f} s"
            )
            iterator = iter(dataset)
            timings.update(time_interleaved(
                {f"{stage} pipeline alone": _consume(iterator)},
                args.repeats, args.warmup,
            ))
            del iterator, dataset

        model = DeconvNet(num_classes=21, width=args.pipeline_width)
        images = np.random.default_rng(0).uniform(
            0, 255, (batch_size, 224, 224, 3)
        ).astype("float32")
        labels = np.zeros((batch_size, 224, 224), "int32")
        train_steps = bench_model._tensorflow_train_candidates(
            model, images, labels, use_xla=not args.no_xla_training
        )
        fed_name = "tf train graph fed by stage 1 pipeline"
        train_steps[fed_name] = _fed_train_step(
            model, iter(dataset_of("objects"))
        )
        timings.update(time_interleaved(
            train_steps, max(2, min(args.repeats, 3)), 1
        ))

    for name, timing in timings.items():
        examples = batch_size * (BATCHES_PER_SAMPLE if "alone" in name else 1)
        section.rows.append({
            "name": name, "batch": batch_size, **timing,
            "examples_per_s": examples / timing["median_s"],
        })
    rate = {row["name"]: row["examples_per_s"] for row in section.rows}
    fastest_step = max(
        rate[name] for name in train_steps if name != fed_name
    )
    section.note(
        f"training steps: DeconvNet width {args.pipeline_width}, batch "
        f"{batch_size}, SGD momentum"
    )
    for stage in ("stage 1", "stage 2"):
        section.ratios.append(ratio_row(
            f"{stage} pipeline / fastest training step (examples/s)",
            rate[f"{stage} pipeline alone"], fastest_step, 1.0,
        ))
    section.ratios.append(ratio_row(
        "train step fed by pipeline / on constant tensors (graph)",
        rate[fed_name], rate["tf train graph"], None,
    ))
    section.print_report(
        ["name", "batch", "median_s", "min_s", "max_s", "examples_per_s"]
    )
    return section


def _consume(iterator):
    def call():
        for _ in range(BATCHES_PER_SAMPLE):
            next(iterator)

    return call


def _fed_train_step(model, iterator):
    """A graph training step that takes each batch from `iterator`."""
    import keras
    import tensorflow as tf

    loss_function = keras.losses.SparseCategoricalCrossentropy(
        from_logits=True, ignore_class=255
    )
    optimizer = keras.optimizers.SGD(learning_rate=1e-6, momentum=0.9)
    optimizer.build(model.trainable_variables)

    @tf.function
    def step(iterator):
        images, labels = next(iterator)
        with tf.GradientTape() as tape:
            loss = loss_function(labels, model(images, training=True))
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply(gradients, model.trainable_variables)
        return loss

    return lambda: step(iterator).numpy()
