"""Object proposals computed once per image and cached on disk.

Stage 2 of the paper trains on EdgeBoxes proposals; computing them takes
about a quarter of a second per image, so they are computed once per
(dataset, proposal function, maximum count) and kept in one `.npz` file
under `cache_dir`. Later epochs and later runs read them back. Boxes follow
`keras_deconvnet.data.boxes` (`[y1, x1, y2, x2]`, pixel edges). No
TensorFlow here.
"""

import concurrent.futures
import hashlib
import os

import numpy as np


def default_proposal_fn(max_boxes=1000):
    """`keras_deconvnet.proposals.propose` (EdgeBoxes) with `max_boxes`.

    Its cache key names the edge map used (the structured edge model in
    `$KERAS_DECONVNET_EDGE_MODEL`, or the gradient-edge fallback), so
    proposals of one never stand in for the other's.
    """
    try:
        from keras_deconvnet.proposals import propose
        from keras_deconvnet.proposals.edges import resolve_edge_model
    except ImportError as error:
        raise ImportError(
            "Stage-2 crops need object proposals: install OpenCV "
            "(`pip install keras-deconvnet[proposals]`) or pass "
            f"`proposal_fn`. ({error})"
        ) from error
    edge_model = resolve_edge_model()

    def edge_boxes(image):
        return propose(image, max_boxes=max_boxes, edge_model=edge_model)[0]

    edges = "gradient" if edge_model is None else edge_model
    digest = hashlib.sha1(edges.encode()).hexdigest()[:8]
    edge_boxes.cache_key = f"edge_boxes-{max_boxes}-{digest}"
    return edge_boxes


def _as_boxes(result, name):
    # A proposal function may return boxes or (boxes, scores).
    if isinstance(result, tuple):
        result = result[0]
    boxes = np.asarray(result, dtype=np.float32)
    if boxes.size == 0:
        return np.zeros((0, 4), np.float32)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(
            f"The proposal function must return [N, 4] boxes; for {name} it "
            f"returned shape {boxes.shape}."
        )
    return boxes


def cache_path(source, proposal_fn, cache_dir):
    """The cache file of `source`'s proposals by `proposal_fn`."""
    key = getattr(proposal_fn, "cache_key", None) or getattr(
        proposal_fn, "__qualname__", type(proposal_fn).__name__
    )
    digest = hashlib.sha1()
    digest.update(key.encode())
    for files in source.files:
        digest.update(files.image_path.encode())
    safe_name = "".join(c if c.isalnum() else "_" for c in source.name)
    return os.path.join(
        cache_dir, f"proposals-{safe_name}-{digest.hexdigest()[:16]}.npz"
    )


def load_or_compute_proposals(
    source, proposal_fn, cache_dir=None, progress=True, num_threads=None
):
    """Every example's proposal boxes, from the cache or computed now.

    Args:
        source: a `SegmentationSource` (validated first).
        proposal_fn: `image uint8 (H, W, 3) -> boxes [N, 4]` (or
            `(boxes, scores)`). Its `cache_key` attribute, else its
            qualified name, identifies it in the cache file name.
        cache_dir: folder of the cache; `None` computes without caching.
        progress: tqdm progress bar while computing.
        num_threads: threads computing proposals (OpenCV releases the GIL).

    Returns:
        list of float32 `[N_i, 4]` arrays, one per example of `source`.
    """
    from tqdm.auto import tqdm

    source.validate(progress=progress)
    path = None
    if cache_dir is not None:
        path = cache_path(source, proposal_fn, cache_dir)
        if os.path.isfile(path):
            with np.load(path) as cached:
                names = cached["names"].tolist()
                if names == [files.name for files in source.files]:
                    splits = np.split(cached["boxes"], cached["offsets"][1:-1])
                    return [boxes.reshape(-1, 4) for boxes in splits]

    def compute(index):
        image = source.read(index, instances=False).image
        return _as_boxes(proposal_fn(image), source.files[index].name)

    num_threads = num_threads or os.cpu_count() or 1
    with concurrent.futures.ThreadPoolExecutor(num_threads) as pool:
        proposals = list(
            tqdm(
                pool.map(compute, range(len(source))),
                total=len(source),
                desc=f"Proposals for {source.name}",
                disable=not progress,
                leave=False,
            )
        )
    if path is not None:
        os.makedirs(cache_dir, exist_ok=True)
        offsets = np.cumsum([0] + [len(boxes) for boxes in proposals])
        temporary = f"{path}.{os.getpid()}.tmp.npz"
        np.savez(
            temporary,
            names=np.array([files.name for files in source.files]),
            boxes=np.concatenate(proposals + [np.zeros((0, 4), np.float32)]),
            offsets=offsets,
        )
        os.replace(temporary, path)  # atomic: no half-written cache.
    return proposals
