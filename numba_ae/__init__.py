"""numba_ae: autoencoders (denoising AE, VAE) for Python on NumPy and Numba.

The feature set of Deeplearning4j's autoencoder API with Pythonic names::

    from numba_ae import (NeuralNetConfiguration, AutoEncoder, OutputLayer,
                          MultiLayerNetwork, Adam)
    conf = NeuralNetConfiguration(updater=Adam(1e-3), layers=[
        AutoEncoder(n_in=784, n_out=256, activation="relu", corruption_level=0.3),
        OutputLayer(n_in=256, n_out=784, activation="sigmoid", loss="mse")])
    net = MultiLayerNetwork(conf).init()
"""
from ._version import __version__
from .config import (
    AutoEncoder,
    BernoulliReconstructionDistribution,
    CategoricalReconstructionDistribution,
    CompositeReconstructionDistribution,
    DenseLayer,
    ExponentialReconstructionDistribution,
    GaussianReconstructionDistribution,
    LossFunctionWrapper,
    NeuralNetConfiguration,
    OutputLayer,
    VariationalAutoencoder,
)
from .data import (
    ArrayDataSetIterator,
    AsyncDataSetIterator,
    DataSet,
    MnistDataSetIterator,
    NormalizerMinMaxScaler,
    NormalizerStandardize,
    load_mnist,
)
from .errors import TrainingDivergedError
from .evaluation import Evaluation
from .io import ModelFormatError, load_model, save_model
from .listeners import CheckpointListener, EarlyStopping, ProgressBarListener, ScoreListener, TrainingListener
from .network import MultiLayerNetwork
from .registries import register_activation, unregister_activation
from .updaters import AdaGrad, Adam, Nesterovs, RmsProp, Sgd

__all__ = [
    "__version__",
    "NeuralNetConfiguration", "DenseLayer", "OutputLayer", "AutoEncoder", "VariationalAutoencoder",
    "GaussianReconstructionDistribution", "BernoulliReconstructionDistribution",
    "ExponentialReconstructionDistribution", "CompositeReconstructionDistribution", "LossFunctionWrapper",
    "CategoricalReconstructionDistribution",
    "MultiLayerNetwork", "Sgd", "Adam", "Nesterovs", "RmsProp", "AdaGrad",
    "DataSet", "ArrayDataSetIterator", "AsyncDataSetIterator", "MnistDataSetIterator", "load_mnist",
    "NormalizerStandardize", "NormalizerMinMaxScaler",
    "TrainingListener", "ScoreListener", "ProgressBarListener", "EarlyStopping", "CheckpointListener",
    "Evaluation",
    "save_model", "load_model", "ModelFormatError", "TrainingDivergedError",
    "register_activation", "unregister_activation",
]
