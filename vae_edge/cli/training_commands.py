"""`vae-edge train`: the command that needs PyTorch, imported only when it runs."""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import click

from vae_edge.config import ModelConfig, TrainOptions

if TYPE_CHECKING:
    from vae_edge.checkpoint import Checkpoint

TRAIN_EXTRA_HINT = 'this command needs PyTorch: pip install "vae-edge[train]"'
# Settings a resumed run takes from its checkpoint; a differing value on the command line
# would silently change nothing, so it is refused instead.
RESUMED_SETTINGS = {
    "latent_dim": "--latent-dim",
    "hidden": "--hidden",
    "batch_size": "--batch-size",
    "lr": "--lr",
    "lr_schedule": "--lr-schedule",
    "kl_warmup": "--kl-warmup",
    "input_flip": "--input-flip",
    "seed": "--seed",
}


def import_training_module(name: str) -> ModuleType:
    """Import a torch-backed module of vae_edge, or fail with the install hint."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as error:
        if error.name and error.name.split(".")[0] in {"torch", "onnx", "onnxscript", "matplotlib"}:
            raise click.ClickException(f"{TRAIN_EXTRA_HINT} ({error.name} is missing)") from None
        raise


def parse_hidden_sizes(_ctx: click.Context, _param: click.Parameter, value: str) -> tuple[int, ...]:
    """'512' or '512,256' -> (512,) or (512, 256)."""
    try:
        sizes = tuple(int(part) for part in value.split(","))
    except ValueError:
        raise click.BadParameter(f"expected comma-separated integers, got {value!r}") from None
    if any(size <= 0 for size in sizes):
        raise click.BadParameter(f"hidden sizes must be positive, got {value!r}")
    return sizes


def prepare_out_dir(out_dir: Path, resume: bool, checkpoint_name: str) -> None:
    """Create `out_dir` and make sure it can be written, or raise a one-line error."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        probe = out_dir / ".vae-edge-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        raise click.ClickException(
            f"--out {out_dir}: cannot write there ({error.strerror})"
        ) from None
    if not resume and (out_dir / checkpoint_name).exists():
        raise click.ClickException(
            f"--out {out_dir} already holds a checkpoint; pass --resume to continue it "
            "or choose another --out"
        )


@click.command()
@click.option(
    "--epochs",
    type=click.IntRange(min=1),
    default=TrainOptions.epochs,
    show_default=True,
    help="Total epochs to train (with --resume: the total to reach).",
)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=TrainOptions.batch_size,
    show_default=True,
    help="Images per optimizer step.",
)
@click.option(
    "--lr",
    type=click.FloatRange(min=0, min_open=True),
    default=TrainOptions.lr,
    show_default=True,
    help="Adam learning rate (the peak, with the cosine schedule).",
)
@click.option(
    "--lr-schedule",
    type=click.Choice(["constant", "cosine"]),
    default=TrainOptions.lr_schedule,
    show_default=True,
    help="Keep --lr, or decay it along a cosine to 0 by the last epoch.",
)
@click.option(
    "--kl-warmup",
    type=click.IntRange(min=0),
    default=TrainOptions.kl_warmup,
    show_default=True,
    help="Epochs over which the KL weight rises linearly from 0 to 1 (0: no warm-up).",
)
@click.option(
    "--input-flip",
    type=click.FloatRange(min=0, max=0.5),
    default=TrainOptions.input_flip,
    show_default=True,
    help="Denoising: flip each training image's pixels at a rate drawn from U(0, this); "
    "the loss reconstructs the clean image (0: a plain VAE).",
)
@click.option(
    "--latent-dim",
    type=click.IntRange(min=1),
    default=ModelConfig.latent_dim,
    show_default=True,
    help="Size of the latent code z.",
)
@click.option(
    "--hidden",
    default=",".join(map(str, ModelConfig.hidden_sizes)),
    show_default=True,
    callback=parse_hidden_sizes,
    help="Encoder hidden sizes, comma-separated; the decoder mirrors them.",
)
@click.option(
    "--seed",
    type=int,
    default=TrainOptions.seed,
    show_default=True,
    help="Seed for weights, batch order and sampling: same seed, same result.",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder with the four MNIST IDX files. Default: $VAE_EDGE_DATA, else the "
    "user cache (downloaded on first use).",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("runs/vae"),
    show_default=True,
    help="Run folder: checkpoint, history and figures.",
)
@click.option(
    "--resume",
    is_flag=True,
    help="Continue the run in --out from its checkpoint, with its own settings.",
)
@click.option(
    "--device",
    default="auto",
    show_default=True,
    help="auto (a GPU where PyTorch sees one, else CPU), cpu, cuda or cuda:N.",
)
@click.option("--quiet", is_flag=True, help="No progress bars; epoch summaries only.")
def train(
    epochs: int,
    batch_size: int,
    lr: float,
    lr_schedule: str,
    kl_warmup: int,
    input_flip: float,
    latent_dim: int,
    hidden: tuple[int, ...],
    seed: int,
    data_dir: Path | None,
    out_dir: Path,
    resume: bool,
    device: str,
    quiet: bool,
) -> None:
    """Train the VAE on 14x14 binarized MNIST and draw the run's figures."""
    training = import_training_module("vae_edge.train")
    checkpoint_module = import_training_module("vae_edge.checkpoint")
    plots = import_training_module("vae_edge.plots")
    from vae_edge.download import resolve_data_dir
    from vae_edge.mnist import DataError, load_split

    prepare_out_dir(out_dir, resume, checkpoint_module.CHECKPOINT_NAME)
    config = ModelConfig(latent_dim=latent_dim, hidden_sizes=hidden)
    options = TrainOptions(
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        lr_schedule=lr_schedule,
        kl_warmup=kl_warmup,
        input_flip=input_flip,
        seed=seed,
        device=device,
    )
    resume_from = None
    if resume:
        try:
            resume_from = checkpoint_module.load_checkpoint(out_dir)
        except checkpoint_module.CheckpointError as error:
            raise click.ClickException(f"--resume: {error}") from None
        given = {
            "latent_dim": latent_dim,
            "hidden": hidden,
            "batch_size": batch_size,
            "lr": lr,
            "lr_schedule": lr_schedule,
            "kl_warmup": kl_warmup,
            "input_flip": input_flip,
            "seed": seed,
        }
        check_resume_settings(resume_from, given)
        if resume_from.epoch >= epochs:
            raise click.ClickException(
                f"{out_dir} has already trained {resume_from.epoch} epoch(s); "
                f"pass --epochs larger than that to continue"
            )
    try:
        training.resolve_device(device)
        folder = resolve_data_dir(data_dir)
        train_images = load_split(folder, "train")
        validation_images = load_split(folder, "validation")
    except (DataError, ValueError) as error:
        raise click.ClickException(str(error)) from None

    shown = resume_from.config if resume_from else config
    layers = "-".join(map(str, (shown.input_dim, *shown.hidden_sizes, shown.latent_dim)))
    click.echo(
        f"{'resuming' if resume_from else 'training'} VAE {layers} on {len(train_images)} "
        f"images (validation {len(validation_images)}) from {folder}; writing {out_dir}"
    )
    result = training.train(
        train_images,
        validation_images,
        out_dir,
        config,
        options,
        resume_from=resume_from,
        show_progress=not quiet,
    )
    if result.interrupted:
        raise SystemExit(130)
    figures = plots.plot_run(result.model, result.history, train_images, validation_images, out_dir)
    click.echo(f"wrote checkpoint.pt, history.json and {len(figures)} figures to {out_dir}")


def check_resume_settings(checkpoint: Checkpoint, given: dict[str, object]) -> None:
    """Refuse command-line settings that differ from those of the run being resumed."""
    ctx = click.get_current_context()
    options = checkpoint.options
    stored = {
        "latent_dim": checkpoint.config.latent_dim,
        "hidden": checkpoint.config.hidden_sizes,
        # A checkpoint from before an option existed trained with that option's default.
        **{
            name: options.get(name, getattr(TrainOptions, name))
            for name in RESUMED_SETTINGS
            if hasattr(TrainOptions, name)
        },
    }
    for name, flag in RESUMED_SETTINGS.items():
        explicit = ctx.get_parameter_source(name) == click.core.ParameterSource.COMMANDLINE
        if explicit and given[name] != stored[name]:
            raise click.ClickException(
                f"{flag} {given[name]} differs from the resumed run's {stored[name]}; "
                "--resume continues with the run's own settings"
            )


COMMANDS: list[click.Command] = [train]
