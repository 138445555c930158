"""Pictures of models and data: sample grids, originals over reconstructions, 2-D latent
scatter plots and score histograms, written as PNG files.

Needs the ``plot`` extra (matplotlib, used with the non-interactive Agg backend); without
it every function raises ``ImportError`` saying how to install it.  Files are written
atomically (a temporary file renamed over the target), as model files are.

Images: rows of ``d`` values are drawn as ``h x w`` grey images when ``d`` is a perfect
square (MNIST: 784 = 28 x 28) or ``image_shape`` is given; values are clipped to [0, 1].
"""
import math
import os

import numpy as np

from .io.atomic import write_atomically

__all__ = ["image_shape_of", "save_image_grid", "save_reconstructions", "save_latent_scatter",
           "save_histogram", "pca_2d"]


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise ImportError("drawing pictures needs matplotlib: pip install 'numba_ae[plot]' "
                          "(or pip install matplotlib)") from None
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    return plt


def image_shape_of(width, image_shape=None):
    """``(h, w)`` for rows of ``width`` values: ``image_shape`` if given, else the square
    root when ``width`` is a perfect square; ``None`` when the rows are not images."""
    if image_shape is not None:
        h, w = (int(v) for v in image_shape)
        if h * w != width:
            raise ValueError(f"'image_shape' {image_shape} does not hold rows of {width} values")
        return h, w
    s = math.isqrt(int(width))
    return (s, s) if s * s == width and s > 1 else None


def _grid(images, shape, cols):
    """Tile ``images`` [n, h*w] into one array [rows*h, cols*w] (1-pixel gaps are 1.0)."""
    h, w = shape
    n = images.shape[0]
    cols = max(1, min(cols, n))
    rows = math.ceil(n / cols)
    out = np.ones((rows * (h + 1) - 1, cols * (w + 1) - 1))
    for k in range(n):
        r, c = divmod(k, cols)
        out[r * (h + 1):r * (h + 1) + h, c * (w + 1):c * (w + 1) + w] = images[k].reshape(h, w)
    return out


def _save(fig, path, plt):
    def write(tmp):
        fig.savefig(tmp, format="png", dpi=100)
    try:
        write_atomically(os.fspath(path), write)
    finally:
        plt.close(fig)


def save_image_grid(images, path, cols=None, image_shape=None, title=None):
    """A grid of images (one per row of ``images`` [n, d]) as a PNG at ``path``.

    Raises ``ValueError`` when the rows are not images (see :func:`image_shape_of`).
    """
    plt = _pyplot()
    images = np.clip(np.asarray(images, dtype=np.float64), 0.0, 1.0)
    if images.ndim != 2 or images.shape[0] == 0:
        raise ValueError(f"'images' must be a non-empty 2-D array [n, d]; got shape {images.shape}")
    shape = image_shape_of(images.shape[1], image_shape)
    if shape is None:
        raise ValueError(f"rows of {images.shape[1]} values are not square images; pass image_shape=(h, w) "
                         "or write the values as CSV instead")
    cols = cols or math.ceil(math.sqrt(images.shape[0]))
    grid = _grid(images, shape, cols)
    fig = plt.figure(figsize=(max(2.0, grid.shape[1] / 28.0), max(2.0, grid.shape[0] / 28.0)))
    ax = fig.add_axes([0, 0, 1, 0.92 if title else 1])
    ax.imshow(grid, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_axis_off()
    if title:
        fig.suptitle(title, fontsize=9)
    _save(fig, path, plt)


def save_reconstructions(originals, reconstructions, path, image_shape=None):
    """Originals (top row of each pair) over their reconstructions, as a PNG."""
    a = np.asarray(originals, dtype=np.float64)
    b = np.asarray(reconstructions, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"'originals' {a.shape} and 'reconstructions' {b.shape} must have the same shape")
    n = a.shape[0]
    cols = min(n, 16)
    rows = []
    for s in range(0, n, cols):
        block_a, block_b = a[s:s + cols], b[s:s + cols]
        pad = cols - block_a.shape[0]
        if pad:
            filler = np.ones((pad, a.shape[1]))
            block_a, block_b = np.vstack([block_a, filler]), np.vstack([block_b, filler])
        rows += [block_a, block_b]
    save_image_grid(np.vstack(rows), path, cols=cols, image_shape=image_shape,
                    title="originals (odd rows) over reconstructions (even rows)")


def pca_2d(z):
    """The first two principal components of ``z`` [n, k] (k >= 2), as [n, 2]."""
    z = np.asarray(z, dtype=np.float64)
    zc = z - z.mean(axis=0)
    _, _, vt = np.linalg.svd(zc, full_matrices=False)
    return zc @ vt[:2].T


def save_latent_scatter(z, path, labels=None, title="latent means"):
    """2-D scatter of latent codes ``z`` [n, k], coloured by integer ``labels`` [n] when
    given; PCA to 2-D when ``k > 2`` (axis labels say so)."""
    plt = _pyplot()
    z = np.asarray(z, dtype=np.float64)
    if z.ndim != 2 or z.shape[0] == 0:
        raise ValueError(f"'z' must be a non-empty 2-D array; got shape {z.shape}")
    if z.shape[1] == 1:
        xy, axes = np.column_stack([z[:, 0], np.zeros(z.shape[0])]), ("z0", "")
    elif z.shape[1] == 2:
        xy, axes = z, ("z0", "z1")
    else:
        xy, axes = pca_2d(z), ("PC 1", "PC 2")
    fig, ax = plt.subplots(figsize=(5, 4.5))
    if labels is None:
        ax.scatter(xy[:, 0], xy[:, 1], s=4, alpha=0.6)
    else:
        labels = np.asarray(labels)
        sc = ax.scatter(xy[:, 0], xy[:, 1], s=4, alpha=0.7, c=labels, cmap="tab10")
        fig.colorbar(sc, ax=ax, label="label")
    ax.set_xlabel(axes[0])
    ax.set_ylabel(axes[1])
    ax.set_title(title + (f" (PCA of {z.shape[1]} dims)" if z.shape[1] > 2 else ""), fontsize=9)
    fig.tight_layout()
    _save(fig, path, plt)


def save_histogram(values, path, xlabel="score", bins=50):
    """Histogram of per-example ``values`` (finite ones) as a PNG."""
    plt = _pyplot()
    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[np.isfinite(v)]
    if v.size == 0:
        raise ValueError("'values' holds no finite number to draw")
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.hist(v, bins=bins)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("examples")
    fig.tight_layout()
    _save(fig, path, plt)
