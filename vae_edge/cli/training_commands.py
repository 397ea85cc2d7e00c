"""`vae-edge train`: the command that needs PyTorch, imported only when it runs."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import click

from vae_edge.atomic import temporary_sibling
from vae_edge.cli.options import (
    DATA_DIR_OPTION,
    INPUT_FLIP_RANGE,
    SEED_RANGE,
    FiniteFloatRange,
    import_training_module,
)
from vae_edge.config import MAX_LAYER_SIZE, ModelConfig, check_hidden_sizes
from vae_edge.errors import INTERRUPTED_STATUS, InputError, VaeEdgeError, first_line
from vae_edge.training.options import LR_SCHEDULES, MAX_IWAE_SAMPLES, TrainOptions

if TYPE_CHECKING:
    from vae_edge.training.checkpoint import Checkpoint

# Settings a resumed run takes from its checkpoint; a differing value on the command line
# would silently change nothing, so it is refused instead.
RESUMED_SETTINGS = {
    "latent_dim": "--latent-dim",
    "hidden": "--hidden",
    "decoder_hidden": "--decoder-hidden",
    "batch_size": "--batch-size",
    "lr": "--lr",
    "lr_schedule": "--lr-schedule",
    "kl_warmup": "--kl-warmup",
    "input_flip": "--input-flip",
    "iwae_samples": "--iwae-samples",
    "seed": "--seed",
}


def parse_hidden_sizes(_ctx: click.Context, _param: click.Parameter, value: str) -> tuple[int, ...]:
    """'512' or '512,256' -> (512,) or (512, 256)."""
    try:
        sizes = tuple(int(part) for part in value.split(","))
    except ValueError:
        raise click.BadParameter(f"expected comma-separated integers, got {value!r}") from None
    try:
        check_hidden_sizes(sizes)
    except InputError as error:
        raise click.BadParameter(str(error)) from None
    return sizes


def parse_decoder_hidden_sizes(
    ctx: click.Context, param: click.Parameter, value: str
) -> tuple[int, ...]:
    """'' -> () (the decoder mirrors the encoder), else like `parse_hidden_sizes`."""
    return parse_hidden_sizes(ctx, param, value) if value else ()


def prepare_out_dir(out_dir: Path) -> Path | None:
    """Create `out_dir` and make sure it can be written, or raise a one-line error.

    Returns the topmost folder this made (`out_dir` or a parent), None if it existed.
    The write probe has a name of its own (`temporary_sibling`): two runs probing one
    folder at once never remove each other's.
    """
    made = [folder for folder in (*reversed(out_dir.parents), out_dir) if not folder.exists()]
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        probe = temporary_sibling(out_dir / "write-test")
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        raise click.ClickException(
            f"--out {out_dir}: cannot write there ({error.strerror})"
        ) from None
    return made[0] if made else None


def remove_created(out_dir: Path, created: Path | None) -> None:
    """Remove the folders `prepare_out_dir` made (up to `created`) while they are empty."""
    if created is None:
        return
    for folder in (out_dir, *out_dir.parents):
        try:
            folder.rmdir()
        except OSError:  # not empty: another run writes there
            return
        if folder == created:
            return


@click.command()
@click.option(
    "--epochs",
    type=click.IntRange(min=1),
    default=TrainOptions.epochs,
    show_default=True,
    help="Total epochs to train. With --resume: the total to reach, by default the "
    "run's own (a cosine schedule's total cannot change).",
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
    type=FiniteFloatRange(min=0, min_open=True),
    default=TrainOptions.lr,
    show_default=True,
    help="Adam learning rate (the peak, with the cosine schedule).",
)
@click.option(
    "--lr-schedule",
    type=click.Choice(LR_SCHEDULES),
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
    type=INPUT_FLIP_RANGE,
    default=TrainOptions.input_flip,
    show_default=True,
    help="Denoising: flip each training image's pixels at a rate drawn from U(0, this); "
    "the loss reconstructs the clean image (0: a plain VAE).",
)
@click.option(
    "--latent-dim",
    type=click.IntRange(min=1, max=MAX_LAYER_SIZE),
    default=ModelConfig.latent_dim,
    show_default=True,
    help="Size of the latent code z.",
)
@click.option(
    "--hidden",
    default=",".join(map(str, ModelConfig.hidden_sizes)),
    show_default=True,
    callback=parse_hidden_sizes,
    help=f"Encoder hidden sizes, comma-separated, each at most {MAX_LAYER_SIZE}.",
)
@click.option(
    "--decoder-hidden",
    default="",
    callback=parse_decoder_hidden_sizes,
    help="Decoder hidden sizes from the latent code outwards, comma-separated "
    "(default: --hidden reversed). Only the decoder ships to a device that generates.",
)
@click.option(
    "--iwae-samples",
    type=click.IntRange(min=1, max=MAX_IWAE_SAMPLES),
    default=TrainOptions.iwae_samples,
    show_default=True,
    help="Training objective: 1 is the ELBO; k > 1 the importance-weighted bound with k "
    "latent samples per image (IWAE), k times the decoder's work per step.",
)
@click.option(
    "--seed",
    type=SEED_RANGE,
    default=TrainOptions.seed,
    show_default=True,
    help="Seed for weights, batch order and sampling: same seed, same result.",
)
@DATA_DIR_OPTION
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
    help="Continue the run in --out from its checkpoint, with its own settings; "
    "on a finished run, redraw its figures.",
)
@click.option(
    "--init-from",
    type=click.Path(path_type=Path),
    default=None,
    help="Start from this run's (or checkpoint file's) weights and model shape instead of "
    "random ones, and train them with this command's options and a fresh optimizer.",
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
    decoder_hidden: tuple[int, ...],
    iwae_samples: int,
    seed: int,
    data_dir: Path | None,
    out_dir: Path,
    resume: bool,
    init_from: Path | None,
    device: str,
    quiet: bool,
) -> None:
    """Train the VAE on 14x14 binarized MNIST and draw the run's figures."""
    training = import_training_module("vae_edge.training.train")
    checkpoint_module = import_training_module("vae_edge.training.checkpoint")
    plots = import_training_module("vae_edge.training.plots")
    from vae_edge.mnist import load_labeled_split
    from vae_edge.training.download import resolve_data_dir

    checkpoint_file = out_dir / checkpoint_module.CHECKPOINT_NAME
    try:
        config = ModelConfig(
            latent_dim=latent_dim, hidden_sizes=hidden, decoder_hidden_sizes=decoder_hidden
        )
        options = TrainOptions(
            epochs=epochs,
            batch_size=batch_size,
            lr=lr,
            lr_schedule=lr_schedule,
            kl_warmup=kl_warmup,
            input_flip=input_flip,
            iwae_samples=iwae_samples,
            seed=seed,
            device=device,
        )
        training.resolve_device(device)
        start = None if init_from is None else load_start(checkpoint_module, init_from, resume)
        if resume:  # settings are checked before the data load; again under the lock
            load_resumed_run(checkpoint_module, training, out_dir, options)
        elif checkpoint_file.exists():
            raise click.ClickException(
                f"--out {out_dir} already holds a checkpoint; pass --resume to continue it "
                "or choose another --out"
            )
        folder = resolve_data_dir(data_dir)
    except VaeEdgeError as error:
        raise click.ClickException(first_line(error)) from None

    created = prepare_out_dir(out_dir)
    loaded = False
    try:
        with training.lock_run_folder(out_dir):
            # Under the lock: a second train into this folder fails before loading the data.
            train_images, _ = load_labeled_split(folder, "train")
            validation_images, _ = load_labeled_split(folder, "validation")
            loaded = True
            resume_from = None
            if resume:
                resume_from, options = load_resumed_run(
                    checkpoint_module, training, out_dir, options
                )
                if resume_from.epoch == options.epochs:
                    model = checkpoint_module.vae_from_checkpoint(resume_from)
                    figures = plots.plot_run(
                        model, resume_from.history, train_images, validation_images, out_dir
                    )
                    click.echo(
                        f"{out_dir} has trained all {resume_from.epoch} epochs; "
                        f"redrew its {len(figures)} figures"
                    )
                    return
            elif checkpoint_file.exists():  # another run finished there since the check above
                raise click.ClickException(f"--out {out_dir} already holds a checkpoint")
            source = resume_from or start  # the checkpoint whose shape the run has, if any
            shown = source.config if source is not None else config
            layers = "-".join(map(str, (shown.input_dim, *shown.hidden_sizes, shown.latent_dim)))
            decoder = "-".join(map(str, shown.decoder_sizes))
            click.echo(
                f"{'resuming' if resume_from else 'training'} VAE {layers}, decoder {decoder} on "
                f"{len(train_images)} images (validation {len(validation_images)}) "
                f"from {folder}; writing {out_dir}"
            )
            result = training.train(
                train_images,
                validation_images,
                out_dir,
                config,
                options,
                resume_from=resume_from,
                init_from=start,
                show_progress=not quiet,
            )
            if result.interrupted:
                raise SystemExit(INTERRUPTED_STATUS)
            try:
                figures = plots.plot_run(
                    result.model, result.history, train_images, validation_images, out_dir
                )
            except VaeEdgeError as error:
                raise click.ClickException(
                    f"{first_line(error)}; the run is trained, "
                    f"`vae-edge train --out {out_dir} --resume` redraws the figures"
                ) from None
    except VaeEdgeError as error:
        raise click.ClickException(first_line(error)) from None
    finally:
        if not loaded:  # bad data (or Ctrl-C) leave no run folder behind
            remove_created(out_dir, created)
    click.echo(f"wrote checkpoint.pt, history.json and {len(figures)} figures to {out_dir}")


def load_start(checkpoint_module: ModuleType, init_from: Path, resume: bool) -> Checkpoint:
    """The checkpoint `--init-from` names; its shape replaces the shape options."""
    ctx = click.get_current_context()
    shape_flags = {"latent_dim": "--latent-dim", "hidden": "--hidden"}
    shape_flags["decoder_hidden"] = "--decoder-hidden"
    given = [
        flag
        for name, flag in shape_flags.items()
        if ctx.get_parameter_source(name) == click.core.ParameterSource.COMMANDLINE
    ]
    if resume or given:
        raise click.ClickException(
            f"--init-from takes the model shape from {init_from}; "
            f"it cannot be combined with {', '.join(given) or '--resume'}"
        )
    try:
        return checkpoint_module.load_checkpoint(init_from)
    except checkpoint_module.CheckpointError as error:
        raise click.ClickException(f"--init-from: {first_line(error)}") from None


def load_resumed_run(
    checkpoint_module: ModuleType, training: ModuleType, out_dir: Path, options: TrainOptions
) -> tuple[Checkpoint, TrainOptions]:
    """The checkpoint to resume, checked against the command line, and the run's options.

    The total epochs are the run's own unless --epochs was given.
    """
    try:
        checkpoint = checkpoint_module.load_checkpoint(out_dir)
    except checkpoint_module.CheckpointError as error:
        raise click.ClickException(f"--resume: {first_line(error)}") from None
    ctx = click.get_current_context()
    given = {name: ctx.params[name] for name in RESUMED_SETTINGS}
    check_resume_settings(checkpoint, given)
    epochs = options.epochs
    if ctx.get_parameter_source("epochs") != click.core.ParameterSource.COMMANDLINE:
        epochs = checkpoint.train_options().epochs
    if checkpoint.epoch > epochs:
        raise click.ClickException(
            f"{out_dir} has already trained {checkpoint.epoch} epoch(s); "
            "pass --epochs larger than that to continue"
        )
    try:
        return checkpoint, training.resumed_options(checkpoint, epochs, options.device)
    except VaeEdgeError as error:
        raise click.ClickException(f"--epochs {epochs}: {first_line(error)}") from None


def check_resume_settings(checkpoint: Checkpoint, given: dict[str, object]) -> None:
    """Refuse command-line settings that differ from those of the run being resumed."""
    ctx = click.get_current_context()
    options = checkpoint.options
    stored = {
        "latent_dim": checkpoint.config.latent_dim,
        "hidden": checkpoint.config.hidden_sizes,
        "decoder_hidden": checkpoint.config.decoder_hidden_sizes,
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
