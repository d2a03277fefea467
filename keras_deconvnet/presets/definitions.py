"""The named presets: the authors' trained Caffe models and their files.

Each preset is a published `.caffemodel` and its deploy `.prototxt`,
converted once by `keras_deconvnet.caffe.convert_caffe_model`. The mIoU
figures are the published ones (PASCAL VOC 2012 test), not measured by
this package.
"""

import dataclasses

from keras_deconvnet import palette

# The DeconvNet project page (HyeonwooNoh/DeconvNet, model/get_model.sh).
DECONVNET_URL = "http://cvlab.postech.ac.kr/research/deconvnet/model/DeconvNet"
DECONVNET_REPOSITORY = (
    "https://raw.githubusercontent.com/HyeonwooNoh/DeconvNet/master/model/"
    "DeconvNet"
)
# The FCN model zoo (shelhamer/fcn.berkeleyvision.org, voc-fcn8s/).
FCN_URL = "http://dl.caffe.berkeleyvision.org"
FCN_REPOSITORY = (
    "https://raw.githubusercontent.com/shelhamer/fcn.berkeleyvision.org/"
    "master/voc-fcn8s"
)


@dataclasses.dataclass(frozen=True)
class PresetFile:
    """One file of a preset.

    Attributes:
        name: the authors' file name (also its name in a mirror).
        url: where the authors publish it.
        sha256: the expected checksum, or None: the checksum of the first
            download is recorded and later downloads must match it.
    """

    name: str
    url: str
    sha256: str = None


@dataclasses.dataclass(frozen=True)
class Preset:
    """A named, published model.

    Attributes:
        name: e.g. `"deconvnet_voc"`.
        architecture: `"deconvnet"` or `"fcn8s"` (the converter's).
        description: one line for `list_presets()`.
        caffemodel: the weights file.
        prototxt: the deploy file.
        published_miou: the authors' VOC 2012 test mean IoU (%).
        reference: the paper or page the figure comes from.
    """

    name: str
    architecture: str
    description: str
    caffemodel: PresetFile
    prototxt: PresetFile
    published_miou: float
    reference: str
    dataset: str = "voc"
    class_names: tuple = palette.VOC_CLASSES
    ignore_label: int = palette.VOC_IGNORE_LABEL

    @property
    def files(self):
        return (self.caffemodel, self.prototxt)


PRESETS = {
    preset.name: preset
    for preset in (
        Preset(
            name="deconvnet_voc",
            architecture="deconvnet",
            description=(
                "DeconvNet of Noh, Hong and Han (ICCV 2015), trained on "
                "PASCAL VOC 2012 train+val with SBD; 21 classes, 224x224 "
                "crops; the authors' released inference model"
            ),
            caffemodel=PresetFile(
                "DeconvNet_trainval_inference.caffemodel",
                f"{DECONVNET_URL}/DeconvNet_trainval_inference.caffemodel",
            ),
            prototxt=PresetFile(
                "DeconvNet_inference_deploy.prototxt",
                f"{DECONVNET_REPOSITORY}/DeconvNet_inference_deploy.prototxt",
            ),
            published_miou=69.6,
            reference="Noh, Hong and Han, ICCV 2015, Table 1 (DeconvNet)",
        ),
        Preset(
            name="fcn8s_voc",
            architecture="fcn8s",
            description=(
                "FCN-8s of Long, Shelhamer and Darrell, PASCAL VOC "
                "(fcn.berkeleyvision.org voc-fcn8s), in the Caffe geometry "
                "(pad 100, crop offsets); 21 classes, any image size"
            ),
            caffemodel=PresetFile(
                "fcn8s-heavy-pascal.caffemodel",
                f"{FCN_URL}/fcn8s-heavy-pascal.caffemodel",
            ),
            prototxt=PresetFile(
                "deploy.prototxt", f"{FCN_REPOSITORY}/deploy.prototxt"
            ),
            published_miou=62.2,
            reference=(
                "Long, Shelhamer and Darrell, CVPR 2015 (FCN-8s, as cited "
                "in the DeconvNet paper's Table 1)"
            ),
        ),
    )
}
