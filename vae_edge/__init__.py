"""vae-edge: train a small VAE on 14x14 binarized MNIST, run its decoder anywhere.

Importing this package stays light: it pulls in no torch, onnx or matplotlib.
"""

__version__ = "0.1.0"
