"""A NumPy interpreter of Caffe layer semantics, for the conversion tests.

It runs a list of `LayerSpec`s (keras_deconvnet.caffe.network_specs) on
NCHW arrays the way Caffe does, independently of Keras: convolution as
cross-correlation over zero-padded input with `[out, in, kh, kw]`
weights, deconvolution by scattering each input pixel times the
`[in, out, kh, kw]` kernel (Caffe's col2im), the authors' inference BN
(`scale * x + shift`), ceil-mode max pooling whose mask is the flat index
of the first maximum, unpooling that writes each value at its mask index,
Crop with an offset, and Eltwise sum.
"""

import math

import numpy as np


def convolution(x, weights, bias, pad, stride):
    x = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    kernel_h, kernel_w = weights.shape[2:]
    windows = np.lib.stride_tricks.sliding_window_view(
        x, (kernel_h, kernel_w), axis=(2, 3)
    )[:, :, ::stride, ::stride]
    out = np.tensordot(windows, weights, axes=([1, 4, 5], [1, 2, 3]))
    out = out.transpose(0, 3, 1, 2)
    if bias is not None:
        out = out + bias.reshape(1, -1, 1, 1)
    return out


def deconvolution(x, weights, bias, pad, stride):
    batch, _, height, width = x.shape
    _, outputs, kernel_h, kernel_w = weights.shape
    full = np.zeros(
        (batch, outputs, (height - 1) * stride + kernel_h,
         (width - 1) * stride + kernel_w),
        dtype="float64",
    )
    for row in range(kernel_h):
        for column in range(kernel_w):
            contribution = np.einsum("nchw,co->nohw", x,
                                     weights[:, :, row, column])
            full[:, :, row:row + (height - 1) * stride + 1:stride,
                 column:column + (width - 1) * stride + 1:stride] += (
                     contribution)
    out = full[:, :, pad:full.shape[2] - pad, pad:full.shape[3] - pad]
    if bias is not None:
        out = out + bias.reshape(1, -1, 1, 1)
    return out


def max_pooling(x, kernel, stride):
    """Caffe MAX pooling: ceil-mode size, mask = flat index h * W + w."""
    batch, channels, height, width = x.shape
    out_h = int(math.ceil((height - kernel) / stride)) + 1
    out_w = int(math.ceil((width - kernel) / stride)) + 1
    pooled = np.full((batch, channels, out_h, out_w), -np.inf)
    mask = np.zeros((batch, channels, out_h, out_w), dtype="int64")
    padded = np.full(
        (batch, channels, (out_h - 1) * stride + kernel,
         (out_w - 1) * stride + kernel), -np.inf)
    padded[:, :, :height, :width] = x
    rows = np.arange(out_h) * stride
    columns = np.arange(out_w) * stride
    # Row-major scan with a strict '>': the first maximum wins.
    for row in range(kernel):
        for column in range(kernel):
            values = padded[:, :, row::stride, column::stride][
                :, :, :out_h, :out_w]
            better = values > pooled
            pooled = np.where(better, values, pooled)
            index = (rows[:, None] + row) * width + (columns[None, :] + column)
            mask = np.where(better, index, mask)
    return pooled, mask


def unpooling(x, mask, height, width):
    batch, channels = x.shape[:2]
    out = np.zeros((batch, channels, height * width))
    flat_mask = mask.reshape(batch, channels, -1)
    flat_x = x.reshape(batch, channels, -1)
    for n in range(batch):
        for c in range(channels):
            out[n, c, flat_mask[n, c]] = flat_x[n, c]
    return out.reshape(batch, channels, height, width)


def run_caffe_net(specs, blobs, data):
    """Runs `specs` with weights `blobs` (name -> arrays) on NCHW `data`.

    Returns the blob of the last layer's first top.
    """
    values = {"data": data.astype("float64")}
    pooled_sizes = {}
    for spec in specs:
        inputs = [values[name] for name in spec.bottoms]
        weights = [np.asarray(array, "float64") for array in
                   blobs.get(spec.name, [])]
        settings = spec.parameters.get("convolution", {})
        if spec.type == "Convolution":
            out = convolution(inputs[0], weights[0],
                              weights[1] if len(weights) > 1 else None,
                              settings["pad"][0], settings["stride"][0])
        elif spec.type == "Deconvolution":
            out = deconvolution(inputs[0], weights[0],
                                weights[1] if len(weights) > 1 else None,
                                settings["pad"][0], settings["stride"][0])
        elif spec.type == "BN":
            out = inputs[0] * weights[0].reshape(1, -1, 1, 1) + weights[
                1].reshape(1, -1, 1, 1)
        elif spec.type == "ReLU":
            out = np.maximum(inputs[0], 0)
        elif spec.type == "Dropout":
            out = inputs[0]
        elif spec.type == "Pooling":
            pooling = spec.parameters["pooling"]
            out, mask = max_pooling(inputs[0], pooling["kernel"][0],
                                    pooling["stride"][0])
            if len(spec.tops) > 1:
                values[spec.tops[1]] = mask
                pooled_sizes[spec.tops[1]] = inputs[0].shape[2:]
        elif spec.type == "Unpooling":
            out = unpooling(inputs[0], inputs[1],
                            *pooled_sizes[spec.bottoms[1]])
        elif spec.type == "Crop":
            offset = spec.parameters["crop"]["offset"][0]
            height, width = inputs[1].shape[2:]
            out = inputs[0][:, :, offset:offset + height,
                            offset:offset + width]
        elif spec.type == "Eltwise":
            out = inputs[0] + inputs[1]
        else:
            raise NotImplementedError(spec.type)
        values[spec.tops[0]] = out
    return values[specs[-1].tops[0]]


def caffe_input(rgb_images, bgr_mean):
    """NHWC RGB [0, 255] -> Caffe's NCHW BGR minus the mean."""
    bgr = rgb_images[..., ::-1].astype("float64") - np.asarray(bgr_mean)
    return bgr.transpose(0, 3, 1, 2)
