"""mnist_core: MNIST data, models, training, evaluation, checkpoints and prediction."""

__version__ = "0.1.0"
