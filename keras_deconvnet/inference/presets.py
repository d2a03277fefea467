"""The paper's inference pipelines by name (TensorFlow only).

`segmenter_from_preset("edeconvnet_crf_voc")` (also
`Segmenter.from_preset`) returns the paper's best pipeline: the authors'
DeconvNet on the top 50 EdgeBoxes proposals (shorter side >= 112 px,
extended by 10 %, max-aggregated), the FCN-8s PASCAL model on the whole
image, their product ensemble (the authors' released code), and the
dense CRF with the paper's settings (`keras_deconvnet.crf`). The mIoU
figures are the published ones (Noh, Hong and Han, ICCV 2015, Table 1,
PASCAL VOC 2012 test), not measured by this package.
"""

import dataclasses


@dataclasses.dataclass(frozen=True)
class Pipeline:
    """A named inference pipeline.

    Attributes:
        name: e.g. `"edeconvnet_crf_voc"`.
        model: the DeconvNet model preset.
        fcn: the FCN-8s model preset of EDeconvNet, or None.
        crf: whether the dense CRF refines the result.
        published_miou: the authors' VOC 2012 test mean IoU (%).
    """

    name: str
    model: str
    fcn: str
    crf: bool
    published_miou: float

    @property
    def description(self):
        parts = ["DeconvNet on 50 EdgeBoxes proposals"]
        if self.fcn:
            parts.append("FCN-8s on the whole image, product ensemble")
        if self.crf:
            parts.append("dense CRF")
        return (", ".join(parts)
                + f"; published {self.published_miou} mIoU on VOC 2012 test")


# The paper's settings, shared by every pipeline.
PAPER_SETTINGS = {
    "num_proposals": 50,
    "aggregation": "max",
    "mode": "proposals",
    "ensemble": "product",
}

PIPELINES = {
    pipeline.name: pipeline
    for pipeline in (
        Pipeline("deconvnet_voc", "deconvnet_voc", None, False, 69.6),
        Pipeline("deconvnet_crf_voc", "deconvnet_voc", None, True, 70.5),
        Pipeline("edeconvnet_voc", "deconvnet_voc", "fcn8s_voc", False, 71.7),
        Pipeline("edeconvnet_crf_voc", "deconvnet_voc", "fcn8s_voc", True,
                 72.5),
    )
}


def segmenter_from_preset(name, segmenter_class=None, **overrides):
    """Builds the `Segmenter` of a named pipeline, loading its presets.

    Args:
        name: one of `PIPELINES` (`"deconvnet_voc"`, `"deconvnet_crf_voc"`,
            `"edeconvnet_voc"`, `"edeconvnet_crf_voc"`).
        segmenter_class: the class to build (default `Segmenter`).
        **overrides: `Segmenter` arguments replacing the paper's settings,
            e.g. `batch_size=8` or `edge_model="model.yml.gz"`.

    Returns:
        The `Segmenter`. Its models are downloaded and converted on first
        use (see `keras_deconvnet.presets`).

    Raises:
        ValueError: an unknown name.

    Example:

    >>> segmenter = Segmenter.from_preset("edeconvnet_crf_voc")
    >>> labels = segmenter.segment(image)   # int32 [H, W], VOC labels
    """
    from keras_deconvnet.presets import load_preset

    if name not in PIPELINES:
        raise ValueError(
            f"Unknown pipeline {name!r}; the pipelines are "
            f"{sorted(PIPELINES)}. Received: name={name!r}"
        )
    if segmenter_class is None:
        from keras_deconvnet.inference.segmenter import Segmenter

        segmenter_class = Segmenter
    pipeline = PIPELINES[name]
    options = {
        **PAPER_SETTINGS,
        "fcn": load_preset(pipeline.fcn) if pipeline.fcn else None,
        "crf": pipeline.crf,
        **overrides,
    }
    return segmenter_class(load_preset(pipeline.model), **options)
