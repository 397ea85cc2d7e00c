"""Training-only code (PyTorch): the model, its training loop, checkpoints, figures,
the latent classifier and the MNIST download. Nothing outside training and export imports it."""
