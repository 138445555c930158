"""Runtime layers, built from layer configs by :func:`build_layer`."""
from .. import config as _c
from .autoencoder import AutoEncoder
from .base import Layer
from .dense import DenseLayer, OutputLayer
from .vae import VariationalAutoencoder

_LAYER_CLASSES = {_c.DenseLayer: DenseLayer, _c.OutputLayer: OutputLayer, _c.AutoEncoder: AutoEncoder,
                 _c.VariationalAutoencoder: VariationalAutoencoder}


def register(config_cls, layer_cls):
    _LAYER_CLASSES[config_cls] = layer_cls


def build_layer(conf, index, net_conf):
    """The runtime layer for ``net_conf.layers[index]``."""
    cls = _LAYER_CLASSES.get(type(conf))
    if cls is None:
        raise TypeError(f"no runtime layer for config {type(conf).__name__}")
    return cls(conf, index, net_conf)


__all__ = ["Layer", "DenseLayer", "OutputLayer", "AutoEncoder", "VariationalAutoencoder", "build_layer", "register"]
