"""Pictures: sample grids, reconstructions, latent scatter plots and histograms are valid
PNG files with non-uniform pixels; bad input gets a clear error."""
import numpy as np
import pytest

from numba_ae import plotting

PNG = b"\x89PNG\r\n\x1a\n"


def _read(path):
    import matplotlib.image as mpimg
    data = open(path, "rb").read()
    assert data[:8] == PNG
    img = mpimg.imread(path)
    assert img.ndim == 3 and img.shape[0] > 20 and img.shape[1] > 20
    assert np.std(img[..., :3]) > 0.01, "the picture is blank"
    return img


def test_image_grid_and_reconstructions(tmp_path):
    rng = np.random.default_rng(0)
    imgs = rng.uniform(0, 1, (10, 784))
    plotting.save_image_grid(imgs, tmp_path / "grid.png")
    _read(tmp_path / "grid.png")
    plotting.save_reconstructions(imgs[:5], 1 - imgs[:5], tmp_path / "recon.png")
    _read(tmp_path / "recon.png")
    plotting.save_image_grid(rng.uniform(0, 1, (4, 12)), tmp_path / "rect.png", image_shape=(3, 4))
    _read(tmp_path / "rect.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grid.png", "recon.png", "rect.png"]   # no temps


def test_latent_scatter_and_histogram(tmp_path):
    rng = np.random.default_rng(1)
    for k in (1, 2, 5):
        z = rng.normal(size=(200, k))
        plotting.save_latent_scatter(z, tmp_path / f"z{k}.png", labels=rng.integers(0, 10, 200))
        _read(tmp_path / f"z{k}.png")
    plotting.save_histogram(np.append(rng.normal(size=500), [np.inf, np.nan]), tmp_path / "h.png")
    _read(tmp_path / "h.png")


def test_pca_2d_keeps_the_largest_variance_directions():
    rng = np.random.default_rng(2)
    z = np.column_stack([10 * rng.normal(size=500), rng.normal(size=500), 0.01 * rng.normal(size=500)])
    p = plotting.pca_2d(z)
    assert p.shape == (500, 2)
    assert np.var(p[:, 0]) > 50 and 0.5 < np.var(p[:, 1]) < 2


def test_errors(tmp_path):
    with pytest.raises(ValueError, match="not square images"):
        plotting.save_image_grid(np.zeros((3, 10)), tmp_path / "x.png")
    with pytest.raises(ValueError, match="does not hold rows of 10"):
        plotting.save_image_grid(np.zeros((3, 10)), tmp_path / "x.png", image_shape=(3, 3))
    with pytest.raises(ValueError, match="same shape"):
        plotting.save_reconstructions(np.zeros((3, 4)), np.zeros((2, 4)), tmp_path / "x.png")
    with pytest.raises(ValueError, match="no finite number"):
        plotting.save_histogram([np.nan], tmp_path / "x.png")
    with pytest.raises(FileNotFoundError, match="missing"):
        plotting.save_image_grid(np.zeros((4, 4)), tmp_path / "missing" / "x.png")
    assert plotting.image_shape_of(784) == (28, 28) and plotting.image_shape_of(10) is None


def test_missing_matplotlib_says_how_to_install(monkeypatch):
    import builtins
    real = builtins.__import__

    def fake(name, *a, **k):
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ImportError("no matplotlib")
        return real(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", fake)
    with pytest.raises(ImportError, match=r"pip install 'numba_ae\[plot\]'"):
        plotting.save_histogram([1.0, 2.0], "x.png")
