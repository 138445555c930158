"""Model files (``numba_ae.io``): atomic save.

A failure injected mid-write leaves an existing file byte-identical and no temp
file; permissions, symlinks and bad targets are handled.
"""
import os
import stat

import pytest

from numba_ae.io import atomic, load_model, save_model
from numba_ae.io import format as io_format

from io_helpers import assert_same_net, bits, small_net, trained_small


# ============================================================================ atomic save

def _fail_after(monkeypatch, n_calls, exc=RuntimeError("disk full (injected)")):
    real = io_format.write_array
    calls = {"n": 0}

    def flaky(group, name, arr):
        if calls["n"] >= n_calls:
            raise exc
        calls["n"] += 1
        return real(group, name, arr)

    monkeypatch.setattr(io_format, "write_array", flaky)
    return calls


@pytest.mark.parametrize("exc", [RuntimeError("disk full (injected)"), KeyboardInterrupt()],
                         ids=["error", "interrupt"])
def test_failed_save_leaves_existing_file_untouched(tmp_path, monkeypatch, exc):
    net, path, x, y = trained_small(tmp_path)
    before = open(path, "rb").read()
    other = small_net(seed=99)
    n_params = sum(len(layer.param_specs()) for layer in other.layers)
    calls = _fail_after(monkeypatch, n_params // 2, exc)
    with pytest.raises(type(exc)):
        other.save(path)
    assert calls["n"] == n_params // 2  # it really failed half-way through the params
    assert open(path, "rb").read() == before
    assert sorted(os.listdir(tmp_path)) == ["model.h5"]
    monkeypatch.undo()
    assert_same_net(net, load_model(path), x, y)


def test_failed_save_to_new_path_leaves_nothing(tmp_path, monkeypatch):
    net = small_net()
    _fail_after(monkeypatch, 1)
    with pytest.raises(RuntimeError, match="injected"):
        save_model(net, tmp_path / "new.h5")
    assert os.listdir(tmp_path) == []


def test_failed_replace_cleans_the_temp_file(tmp_path, monkeypatch):
    net, path, x, y = trained_small(tmp_path)
    before = open(path, "rb").read()

    def boom(src, dst):
        assert os.path.dirname(os.path.abspath(src)) == str(tmp_path)  # temp file in the same folder
        raise OSError("replace failed (injected)")

    monkeypatch.setattr(atomic.os, "replace", boom)
    with pytest.raises(OSError, match="injected"):
        net.save(path)
    assert open(path, "rb").read() == before
    assert os.listdir(tmp_path) == ["model.h5"]


def test_save_errors_for_missing_folder_and_keeps_permissions(tmp_path):
    net, path, x, y = trained_small(tmp_path)
    with pytest.raises(FileNotFoundError):
        net.save(tmp_path / "no" / "such" / "dir.h5")
    os.chmod(path, 0o640)
    net.save(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640
    old = os.umask(0o027)
    try:
        net.save(tmp_path / "fresh.h5")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "fresh.h5").st_mode) == 0o640
    with pytest.raises(IsADirectoryError):
        net.save(tmp_path)
    assert sorted(os.listdir(tmp_path)) == ["fresh.h5", "model.h5"]
    # saving through a symlink replaces the target and keeps the link
    os.symlink("model.h5", tmp_path / "latest.h5")
    other = small_net(seed=42)
    other.save(tmp_path / "latest.h5")
    assert os.path.islink(tmp_path / "latest.h5")
    assert bits(load_model(path).params()) == bits(other.params())
    assert sorted(os.listdir(tmp_path)) == ["fresh.h5", "latest.h5", "model.h5"]
