"""Object proposals for instance-wise inference: EdgeBoxes and selection.

Boxes are `[y1, x1, y2, x2]` float32 in pixel-edge coordinates (pixel
`(r, c)` covers `[r, r + 1) x [c, c + 1)`; y2 and x2 are exclusive).
Needs OpenCV with contrib modules (`opencv-contrib-python-headless`);
TensorFlow is not needed.
"""

from keras_deconvnet.proposals.edge_boxes import propose
from keras_deconvnet.proposals.edges import EDGE_MODEL_ENV
from keras_deconvnet.proposals.edges import gradient_edges
from keras_deconvnet.data.boxes import extend_boxes
from keras_deconvnet.proposals.selection import select_proposals

__all__ = [
    "EDGE_MODEL_ENV",
    "extend_boxes",
    "gradient_edges",
    "propose",
    "select_proposals",
]
