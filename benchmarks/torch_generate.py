"""What a PyTorch user runs instead of `vae-edge generate`: checkpoint in, PNG grid out.

python benchmarks/torch_generate.py runs/vae/checkpoint.pt -n 64 -o grid.png --seed 0
"""

from __future__ import annotations

import argparse
import math

import numpy as np
import torch
from PIL import Image

from vae_edge.grid import tile
from vae_edge.training.checkpoint import load_checkpoint, vae_from_checkpoint


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint")
    parser.add_argument("-n", type=int, default=64)
    parser.add_argument("-o", "--output", default="grid.png")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scale", type=int, default=4)
    args = parser.parse_args()

    checkpoint = load_checkpoint(args.checkpoint)
    vae = vae_from_checkpoint(checkpoint)
    side = checkpoint.config.image_side
    generator = torch.Generator().manual_seed(args.seed)
    with torch.inference_mode():
        z = torch.randn(args.n, checkpoint.config.latent_dim, generator=generator)
        images = vae.decoder.probs(z).numpy().reshape(-1, side, side)
    canvas = tile(images, n_columns=math.ceil(math.sqrt(args.n)))
    pixels = np.kron((canvas * 255).round().astype(np.uint8), np.ones((args.scale,) * 2, np.uint8))
    Image.fromarray(pixels).save(args.output)


if __name__ == "__main__":
    main()
