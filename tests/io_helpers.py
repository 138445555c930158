"""Shared helpers of the ``tests/test_io_*.py`` files (networks, data, bitwise comparison)."""
import numpy as np

from harness import make_net
from numba_ae import Adam, AutoEncoder, OutputLayer


def bits(a):
    a = np.asarray(a)
    return a.dtype.str, a.shape, a.tobytes()


def assert_same_net(a, b, x, y=None):
    """Bitwise equality of everything that determines the network's future."""
    assert a.conf.to_json() == b.conf.to_json()
    assert bits(a.params()) == bits(b.params())
    assert a.training_state() == b.training_state()
    for i in range(len(a.layers)):
        for pretrain in (False, True) if a.layers[i].pretrainable else (False,):
            sa, sb = a.updater_state(i, pretrain=pretrain), b.updater_state(i, pretrain=pretrain)
            assert sa.keys() == sb.keys()
            for name in sa:
                assert sa[name].keys() == sb[name].keys()
                for k in sa[name]:
                    assert bits(sa[name][k]) == bits(sb[name][k])
    assert bits(a.output(x)) == bits(b.output(x))
    if a._last_score is not None:
        assert a.score() == b.score()


def small_net(dtype="float32", updater=None, seed=3, corruption=0.3):
    return make_net([AutoEncoder(n_in=5, n_out=4, corruption_level=corruption, activation="tanh"),
                     OutputLayer(n_out=3, activation="softmax", loss="mcxent")],
                    seed=seed, dtype=dtype, updater=updater or Adam(1e-2))


def data(n=6, n_in=5, n_out=3, dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((n, n_in)).astype(dtype)
    y = np.eye(n_out, dtype=dtype)[rng.integers(0, n_out, n)]
    return x, y


def trained_small(tmp_path, name="model.h5", **kw):
    net = small_net(**kw)
    x, y = data()
    net.pretrain(x, batch_size=3)
    net.fit(x, y, batch_size=3)
    path = str(tmp_path / name)
    net.save(path)
    return net, path, x, y
