"""The paper DeconvNet in PyTorch: the reference the benchmarks compare to.

Benchmark code only (needs `torch`, the `bench` extra; never a runtime
dependency). Same layers as `keras_deconvnet.DeconvNet`: VGG16 encoder with
`MaxPool2d(return_indices=True)`, fc6/fc7 as convolutions, fc6-deconv, a
mirrored decoder of `MaxUnpool2d` and 3x3 transposed convolutions,
BatchNorm + ReLU after every convolution and deconvolution but the score
layer. Weight layouts are Caffe's: Conv2d `[out, in, kh, kw]`,
ConvTranspose2d `[in, out, kh, kw]`; `copy_keras_weights` converts a Keras
DeconvNet's weights into it so both compute the same function.
"""

import numpy as np
import torch
from torch import nn

ENCODER_BLOCKS = ((1, 2, 64), (2, 2, 128), (3, 3, 256), (4, 3, 512),
                  (5, 3, 512))
DECODER_BLOCKS = (
    (5, (512, 512, 512)),
    (4, (512, 512, 256)),
    (3, (256, 256, 128)),
    (2, (128, 64)),
    (1, (64, 64)),
)
BGR_MEAN = (104.008, 116.669, 122.675)


class TorchDeconvNet(nn.Module):
    """DeconvNet (Noh, Hong and Han, ICCV 2015) in PyTorch, NCHW.

    Args:
        num_classes: output classes.
        width: channel multiplier, as in `keras_deconvnet.DeconvNet`.

    Call arguments:
        images: `(batch, 3, size, size)` float RGB in [0, 255]; the Caffe BGR
            mean is subtracted inside, like the Keras model.
    """

    def __init__(self, num_classes=21, width=1.0):
        super().__init__()

        def channels(count):
            return max(1, int(round(count * width)))

        self.layer_names = []  # Keras layer name of each conv/deconv
        self.encoder = nn.ModuleList()
        in_channels = 3
        for block, count, filters in ENCODER_BLOCKS:
            layers = []
            for index in range(1, count + 1):
                layers.append(self._conv(in_channels, channels(filters), 3, 1))
                self.layer_names.append(f"conv{block}_{index}")
                in_channels = channels(filters)
            self.encoder.append(nn.Sequential(*layers))
        self.pool = nn.MaxPool2d(2, 2, return_indices=True)
        self.unpool = nn.MaxUnpool2d(2, 2)
        self.fully_connected = nn.Sequential(
            self._conv(in_channels, channels(4096), 7, 0),
            self._conv(channels(4096), channels(4096), 1, 0),
            self._deconv(channels(4096), channels(512), 7, 0),
        )
        self.layer_names += ["fc6", "fc7", "fc6_deconv"]
        in_channels = channels(512)
        self.decoder = nn.ModuleList()
        for block, filter_list in DECODER_BLOCKS:
            layers = []
            for index, filters in enumerate(filter_list, 1):
                layers.append(self._deconv(in_channels, channels(filters), 3, 1))
                self.layer_names.append(f"deconv{block}_{index}")
                in_channels = channels(filters)
            self.decoder.append(nn.Sequential(*layers))
        self.score = nn.Conv2d(in_channels, num_classes, 1)
        self.register_buffer(
            "mean", torch.tensor(BGR_MEAN).view(1, 3, 1, 1)
        )

    @staticmethod
    def _conv(in_channels, out_channels, kernel_size, padding):
        return nn.Sequential(
            nn.Conv2d(in_channels, out_channels, kernel_size, padding=padding),
            nn.BatchNorm2d(out_channels, eps=1e-3, momentum=0.01),
            nn.ReLU(inplace=True),
        )

    @staticmethod
    def _deconv(in_channels, out_channels, kernel_size, padding):
        return nn.Sequential(
            nn.ConvTranspose2d(
                in_channels, out_channels, kernel_size, padding=padding
            ),
            nn.BatchNorm2d(out_channels, eps=1e-3, momentum=0.01),
            nn.ReLU(inplace=True),
        )

    def forward(self, images):
        x = torch.flip(images, dims=(1,)) - self.mean
        switches = []
        sizes = []
        for block in self.encoder:
            x = block(x)
            sizes.append(x.shape[-2:])
            x, indices = self.pool(x)
            switches.append(indices)
        x = self.fully_connected(x)
        for block in self.decoder:
            x = self.unpool(x, switches.pop(), output_size=sizes.pop())
            x = block(x)
        return self.score(x)

    def conv_modules(self):
        """Yields the (conv or deconv, batch norm) pairs, in layer order."""
        sequences = list(self.encoder) + [self.fully_connected]
        sequences += list(self.decoder)
        for sequence in sequences:
            for unit in sequence:
                yield unit[0], unit[1]


def inference_call(module, inputs, bf16=False):
    """A no-argument call of `module(inputs)` without gradients, under
    bfloat16 autocast (returning float32) when `bf16`."""

    def call():
        with torch.no_grad():
            if bf16:
                with torch.autocast("cpu", dtype=torch.bfloat16):
                    return module(inputs).float()
            return module(inputs)

    return call


def copy_keras_weights(torch_model, keras_model):
    """Copies a Keras DeconvNet's weights into `torch_model` (same width)."""

    def numpy(variable):
        return np.asarray(variable.numpy() if hasattr(variable, "numpy")
                          else variable)

    with torch.no_grad():
        pairs = zip(torch_model.layer_names, torch_model.conv_modules())
        for name, (conv, norm) in pairs:
            kernel, bias = keras_model.get_layer(name).get_weights()
            # Conv2D (kh, kw, in, out) -> (out, in, kh, kw); Conv2DTranspose
            # (kh, kw, out, in) -> (in, out, kh, kw): the same permutation.
            conv.weight.copy_(torch.from_numpy(kernel.transpose(3, 2, 0, 1)))
            conv.bias.copy_(torch.from_numpy(bias))
            gamma, beta, mean, variance = (
                keras_model.get_layer(f"{name}_bn").get_weights()
            )
            norm.weight.copy_(torch.from_numpy(gamma))
            norm.bias.copy_(torch.from_numpy(beta))
            norm.running_mean.copy_(torch.from_numpy(mean))
            norm.running_var.copy_(torch.from_numpy(variance))
        kernel, bias = keras_model.get_layer("seg_score").get_weights()
        torch_model.score.weight.copy_(
            torch.from_numpy(kernel.transpose(3, 2, 0, 1))
        )
        torch_model.score.bias.copy_(torch.from_numpy(bias))
