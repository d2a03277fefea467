"""Learning curves as a picture, rewritten at every epoch end.

`LearningCurves` draws what `HistoryWriter` holds (so a resumed run's
picture shows its earlier epochs too): the training and validation loss,
the mIoU (training running mean, validation with BN batch statistics and
in inference mode on the same batches) and the learning rate. It uses
matplotlib's Agg canvas directly, without pyplot's global state.
"""

import os

import keras

# history.json key -> (legend label, line style, marker) of each panel;
# distinct markers keep curves that coincide apart.
LOSS_CURVES = {
    "loss": ("training", "-", "o"),
    "val_loss": ("validation (inference mode)", "--", "s"),
}
MIOU_CURVES = {
    "mean_iou": ("training (running mean, train mode)", "-", "o"),
    "val_miou_batch_statistics": (
        "validation, BN batch statistics", "-", "s"),
    "val_miou_inference": ("validation, inference mode", "-", "^"),
    # Only in histories written before validation became one pass.
    "val_mean_iou": (
        "validation (Keras, inference, next batches)", ":", "x"),
}


def matplotlib_available():
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _panel(axes, epochs, curves, title, ylabel):
    drawn = 0
    for key, (label, style, marker) in curves.items():
        points = [(e["epoch"], e[key]) for e in epochs if key in e]
        if not points:
            continue
        x, y = zip(*points)
        axes.plot(x, y, linestyle=style, marker=marker, markersize=5,
                  fillstyle="none", label=label)
        drawn += 1
    axes.set_title(title)
    axes.set_xlabel("epoch")
    axes.set_ylabel(ylabel)
    axes.grid(True, alpha=0.3)
    if drawn > 1:
        axes.legend(fontsize="small")


def plot_curves(epochs, path, title=None):
    """Writes the learning curves of `epochs` to the PNG file `path`.

    Args:
        epochs: `history.json`'s `"epochs"` list: one dict per epoch with
            `"epoch"` and logged values (`loss`, `val_miou_inference`, ...).
        path: the PNG to write (its folder is created; the file is
            replaced atomically, so a reader never sees half a picture).
        title: the figure's title (e.g. the run folder's name).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=(15, 4.5), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    loss, miou, rate = figure.subplots(1, 3)
    _panel(loss, epochs, LOSS_CURVES, "Loss", "cross-entropy")
    _panel(miou, epochs, MIOU_CURVES, "Mean IoU", "mIoU")
    miou.set_ylim(bottom=0)
    _panel(rate, epochs, {"learning_rate": ("learning rate", "-", "o")},
           "Learning rate (end of epoch)", "learning rate")
    rates = [e["learning_rate"] for e in epochs if "learning_rate" in e]
    if rates and min(rates) > 0:
        rate.set_yscale("log")  # x0.1 steps read as equal steps
    for axes in (loss, miou, rate):
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    if title:
        figure.suptitle(title)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    temporary = f"{path}.tmp"
    figure.savefig(temporary, format="png")
    os.replace(temporary, path)


class LearningCurves(keras.callbacks.Callback):
    """Rewrites `path` (a PNG) from a `HistoryWriter` at every epoch end.

    Place it after the `HistoryWriter`. Without matplotlib it prints one
    line and does nothing.

    Args:
        history: the run's `callbacks.HistoryWriter`.
        path: the PNG, e.g. `OUT/plots/curves.png`.
        title: the figure's title.
    """

    def __init__(self, history, path, title=None):
        super().__init__()
        self.history = history
        self.path = path
        self.title = title
        self.enabled = matplotlib_available()
        if not self.enabled:
            print("matplotlib is not installed: no learning-curve plot "
                  "(pip install keras-deconvnet[plots]).")

    def on_epoch_end(self, epoch, logs=None):
        if self.enabled and self.history.epochs:
            plot_curves(self.history.epochs, self.path, self.title)
