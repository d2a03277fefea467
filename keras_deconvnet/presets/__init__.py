"""Named presets: the authors' trained models, downloaded and converted once.

>>> keras_deconvnet.list_presets()
>>> model = keras_deconvnet.load("deconvnet_voc")
>>> model = keras_deconvnet.DeconvNet(weights="pascal_voc")   # the same

The first call needs network access to the authors' servers (or a mirror
in `KERAS_DECONVNET_PRESET_BASE_URL`, or local files:
`load("deconvnet_voc", caffemodel=..., prototxt=...)`).
"""

from keras_deconvnet.presets.definitions import PRESETS
from keras_deconvnet.presets.definitions import Preset
from keras_deconvnet.presets.definitions import PresetFile
from keras_deconvnet.presets.loader import get_preset
from keras_deconvnet.presets.loader import is_preset_name
from keras_deconvnet.presets.loader import list_presets
from keras_deconvnet.presets.loader import load_preset
from keras_deconvnet.presets.loader import preset_model_dir

__all__ = [
    "PRESETS",
    "Preset",
    "PresetFile",
    "get_preset",
    "is_preset_name",
    "list_presets",
    "load_preset",
    "preset_model_dir",
]
