"""The shared test harness: one central difference (:func:`central_difference`; the
gradient forms :func:`fd_grad`, :func:`fd_grad_inplace`, :func:`fd_grad_rows` and
:func:`fd_directional` are built on it), one small-network builder (:func:`make_net`),
fixed-noise pretrain objectives, and ``check_layer`` / ``check_distribution`` that run
the standard checks on any layer or reconstruction-distribution config.  The pass rule
is ``reference.assert_grad_close``.

Tests that add a registry entry (an activation, a distribution) get the whole set of
checks by parametrizing over the registry and calling these functions.
"""
import os
import tempfile

import numpy as np

from reference import assert_grad_close
from numba_ae import MultiLayerNetwork, NeuralNetConfiguration, OutputLayer, Sgd, VariationalAutoencoder

#: Central-difference step for float64 gradient checks.
H = 1e-6


# ---- finite differences ------------------------------------------------------------------------

def central_difference(f, x, index, h=H):
    """THE central difference of the test suite: ``(f(x + h e) - f(x - h e)) / step`` where
    ``e`` perturbs ``x[index]`` (one entry, or a whole slice at once for independent
    problems) and ``step`` is the perturbation actually representable,
    ``(x[index] + h) - (x[index] - h)``.  ``f`` gets a perturbed copy; ``x`` is not modified.
    Works for scalar or array ``f`` (an array ``f`` is divided elementwise by the step)."""
    xp = np.array(x, dtype=np.float64, copy=True)
    xm = xp.copy()
    xp[index] += h
    xm[index] -= h
    return (f(xp) - f(xm)) / (xp[index] - xm[index])


def fd_grad(f, p, h=H):
    """Central-difference gradient of the scalar function ``f`` at the float64 array ``p``
    (any shape; the result has the shape of ``p``)."""
    p = np.asarray(p, dtype=np.float64)
    g = np.empty(p.shape)
    for idx in np.ndindex(p.shape):
        g[idx] = central_difference(f, p, idx, h)
    return g


def fd_grad_inplace(f, flat, h=H):
    """Central-difference gradient of the argument-less scalar ``f()`` with respect to the
    entries of the array ``flat``, which ``f`` reads (e.g. a network's flat parameter
    buffer ``net._flat``): ``flat`` is perturbed in place and restored exactly."""
    orig = np.array(flat, copy=True)

    def g(q):
        flat[...] = q
        return f()

    try:
        return fd_grad(g, orig, h)
    finally:
        flat[...] = orig


def fd_grad_rows(f, args, k, h=H):
    """Central differences of the vector ``f(*args)`` with respect to ``args[k]`` when every
    ``args[q]`` has shape (m, 1) (m independent one-feature problems: entry r of ``f``
    depends on row r only), so one vectorised perturbation gives all m partials."""
    args = list(args)

    def g(q):
        return f(*args[:k], q, *args[k + 1:])

    return central_difference(g, args[k], (slice(None), 0), h)


def fd_directional(f, x, v, h=H):
    """Central-difference derivative of the scalar ``f`` at ``x`` along the direction ``v``."""
    x = np.asarray(x, dtype=np.float64)
    return central_difference(lambda t: f(x + t[0] * v), np.zeros(1), 0, h)


def param_index(net):
    """One ``(layer index, parameter name, flat offset within it)`` per flat parameter."""
    out = []
    for layer in net.layers:
        for name, shape, _ in layer.param_specs():
            out += [(layer.index, name, j) for j in range(int(np.prod(shape)))]
    return out


def param_names(net):
    """One label per flat parameter (``L0.W[3]``), for readable gradient-check failures."""
    return [f"L{i}.{name}[{j}]" for i, name, j in param_index(net)]


# ---- networks --------------------------------------------------------------------------------------

def make_net(layers, seed=0, updater=None, dtype="float64", **kw):
    """An initialised network of ``layers`` (Sgd(1.0) by default: one step moves the
    parameters by exactly minus the gradient)."""
    conf = NeuralNetConfiguration(dtype=dtype, seed=seed, updater=updater if updater is not None else Sgd(1.0),
                                  layers=list(layers), **kw)
    return MultiLayerNetwork(conf).init()


def random_params(net, rng):
    """Random parameters of magnitude in [0.2, 1] / sqrt(fan-in): none at 0 (L1 kinks)."""
    chunks = []
    for layer in net.layers:
        for _, shape, _ in layer.param_specs():
            size = int(np.prod(shape))
            chunks.append(rng.uniform(0.2, 1.0, size) * rng.choice([-1.0, 1.0], size) / np.sqrt(layer.n_in))
    return np.concatenate(chunks)


def score_fn(net, data):
    """``f(flat) -> net.score(data)`` with the network's parameters set to ``flat``."""
    def f(q):
        net.set_params(q)
        return net.score(data)
    return f


def fit_grad(net, p, x, y):
    """Analytic gradient (incl. l1/l2) read from one Sgd(1.0) ``fit`` step at ``p``:
    ``p_before - p_after`` (the network needs an Sgd(1.0) updater, as :func:`make_net`)."""
    net.set_params(p)
    net.fit((x, y))
    return p - net.params()


def check_fit_gradient(net, x, y, rng, what=""):
    """The supervised gradient (one Sgd(1.0) ``fit`` step: ``p_before - p_after``) against
    central differences of ``net.score((x, y))`` at random parameters; returns ``(p, gradient)``
    with the network's parameters back at ``p``."""
    p = random_params(net, rng)
    g = fit_grad(net, p, x, y)
    num = fd_grad(score_fn(net, (x, y)), p)
    assert np.any(g != 0), f"{what}: the gradient is identically zero"
    assert_grad_close(g, num, what, names=param_names(net))
    net.set_params(p)
    return p, g


def pretrain_objective(net, i, x, seed=0):
    """``f(flat) -> pretrain objective of layer i`` on network input ``x`` (the layer sees the
    inference output of the layers below, as in ``net.pretrain_layer``) with the layer's
    noise fixed (AutoEncoder corruption draws ``u``, VAE ``eps``), and the analytic gradient
    function ``g(flat)`` (zero outside layer i)."""
    layer = net.layers[i]
    x = np.asarray(x, dtype=net.dtype)
    rng = np.random.default_rng(seed)
    if isinstance(layer.conf, VariationalAutoencoder):
        noise = {"eps": rng.standard_normal((layer.num_samples * x.shape[0], layer.n_out))}
    else:
        noise = {"u": rng.uniform(size=(x.shape[0], layer.n_in))}

    def f(q):
        net.set_params(q)
        # the layer's own input: the inference output of the layers below (as pretrain_layer)
        inp = x if i == 0 else net.feed_forward(x)[i]
        return layer.pretrain_step(inp, None, **noise)

    def g(q):
        f(q)
        out = np.zeros_like(q)
        off = 0
        for lay in net.layers:
            n = lay.num_params()
            if lay is layer:
                out[off:off + n] = np.concatenate([lay.grads[name].ravel() for name, _, _ in lay.param_specs()])
            off += n
        return out

    return f, g


def layer_slice(net, i):
    """The slice of layer ``i``'s parameters in the network's flat parameter vector."""
    off = sum(lay.num_params() for lay in net.layers[:i])
    return slice(off, off + net.layers[i].num_params())


def check_pretrain_gradient(net, i, x, rng, what=""):
    """Analytic pretrain gradient of layer ``i`` against central differences (fixed noise)
    with respect to layer ``i``'s parameters (pretraining moves only those; the layers
    below only feed it its input); the analytic gradient is zero outside layer ``i``."""
    p = random_params(net, rng)
    f, g = pretrain_objective(net, i, x, seed=int(rng.integers(2 ** 31)))
    analytic = g(p)
    sl = layer_slice(net, i)

    def f_layer(q):  # the objective as a function of layer i's slice only
        full = p.copy()
        full[sl] = q
        return f(full)

    num = fd_grad(f_layer, p[sl])
    assert np.any(analytic != 0), f"{what}: the pretrain gradient is identically zero"
    assert not np.any(np.delete(analytic, np.arange(sl.start, sl.stop))), f"{what}: gradient outside layer {i}"
    assert_grad_close(analytic[sl], num, what, names=param_names(net)[sl])
    net.set_params(p)


# ---- the standard checks of a layer config -------------------------------------------------------------

def _bits(a):
    a = np.asarray(a)
    return a.dtype.str, a.shape, a.tobytes()


def _round_trip(conf):
    from numba_ae._serial import deserialize, serialize
    import json
    back = deserialize(json.loads(json.dumps(serialize(conf))))
    assert back == conf, f"config round trip changed {conf!r} into {back!r}"
    assert type(conf).from_dict(conf.to_dict()) == conf
    assert type(conf).from_json(conf.to_json()) == conf


def check_layer(layer_conf, n_in, x, rng=None, y_width=2, pretrain=None, float32=True):
    """Run the standard checks on ``layer_conf`` (input width ``n_in``, data ``x``):

    * config round trip (dict and JSON), alone and inside a network config;
    * parameter count of the runtime layer = sum of its parameter shapes;
    * float64 gradient check of ``fit`` with the layer under an OutputLayer (mse);
    * float64 gradient check of ``pretrain`` when the layer is pretrainable;
    * bitwise save/load of a network holding it (outputs and parameters);
    * a float32 smoke test: a few pretrain/fit steps stay finite.
    """
    rng = np.random.default_rng(0) if rng is None else rng
    x = np.asarray(x, dtype=np.float64)
    _round_trip(layer_conf)
    layers = [layer_conf, OutputLayer(n_out=y_width, activation="identity", loss="mse")]
    net = make_net(layers, n_in=n_in) if getattr(layer_conf, "n_in", None) is None else make_net(layers)
    _round_trip(net.conf)
    layer = net.layers[0]
    assert layer.num_params() == sum(int(np.prod(s)) for _, s, _ in layer.param_specs())
    for pname, shape, _ in layer.param_specs():
        assert layer.params[pname].shape == tuple(shape), f"{pname}: {layer.params[pname].shape} != {shape}"
    assert net.num_params() == layer.num_params() + net.layers[1].num_params()
    y = rng.normal(size=(x.shape[0], y_width))
    name = type(layer_conf).__name__
    check_fit_gradient(net, x, y, rng, f"{name} fit")
    if pretrain is None:
        pretrain = layer.pretrainable
    if pretrain:
        check_pretrain_gradient(net, 0, x, rng, f"{name} pretrain")
    # bitwise save / load
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "m.h5")
        net.save(path)
        back = MultiLayerNetwork.load(path)
    assert back.conf == net.conf
    assert _bits(back.params()) == _bits(net.params()), f"{name}: save/load changed the parameters"
    assert _bits(back.output(x)) == _bits(net.output(x)), f"{name}: save/load changed the output"
    if float32:
        net32 = make_net(layers, dtype="float32", updater=Sgd(1e-2),
                         **({"n_in": n_in} if getattr(layer_conf, "n_in", None) is None else {}))
        x32, y32 = x.astype(np.float32), y.astype(np.float32)
        for _ in range(3):
            if net32.layers[0].pretrainable:
                net32.pretrain(x32)
            net32.fit((x32, y32))
        assert net32.params().dtype == np.float32
        assert np.all(np.isfinite(net32.params())), f"{name}: float32 training gave non-finite parameters"
        assert np.isfinite(net32.score((x32, y32)))
    return net


def check_distribution(dist_conf, x, rng=None, n_out=2, enc=(3,), dec=(3,), **vae_kw):
    """The standard checks of a reconstruction distribution: :func:`check_layer` of a small
    VAE using it on data ``x`` (round trip, counts, fit and pretrain gradients, save/load,
    float32 smoke test)."""
    vae = VariationalAutoencoder(n_in=x.shape[1], n_out=n_out, encoder_layer_sizes=enc,
                                 decoder_layer_sizes=dec, reconstruction_distribution=dist_conf, **vae_kw)
    return check_layer(vae, x.shape[1], x, rng=rng)
