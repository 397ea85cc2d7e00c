"""The training loop: determinism, resume, Ctrl-C, and the `vae-edge train` command."""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import shutil
import signal
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from cli_checks import cli_process_command, error_after_progress, one_line_error
from click.testing import CliRunner
from full_disk import file_size_limit
from PIL import Image

from vae_edge.cli import main, training_commands
from vae_edge.config import ModelConfig
from vae_edge.errors import InputError
from vae_edge.mnist import load_split
from vae_edge.runtime.noise import apply_flips
from vae_edge.training import train as train_module
from vae_edge.training.checkpoint import CheckpointError, load_checkpoint
from vae_edge.training.model import VAE, flip_pixels
from vae_edge.training.options import TrainOptions
from vae_edge.training.plots import FIGURE_NAMES
from vae_edge.training.train import TrainingError, train

SMALL_CONFIG = ModelConfig(latent_dim=4, hidden_sizes=(32,))


@pytest.fixture(scope="module")
def small_data(mnist_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """2,000 training and the 1,000 validation images: enough to learn, quick to train."""
    return load_split(mnist_dir, "train")[:2000], load_split(mnist_dir, "validation")


def run_small(
    out_dir: Path,
    data,
    epochs: int,
    seed: int = 0,
    resume_from=None,
    schedule: str = "cosine",
    stop_after: int | None = None,
):
    """Train SMALL_CONFIG; `stop_after` presses Ctrl-C once that epoch is saved."""
    options = TrainOptions(epochs=epochs, batch_size=64, seed=seed, lr_schedule=schedule)

    def log(line: str) -> None:
        if stop_after is not None and line.startswith(f"epoch {stop_after:3d}/"):
            raise KeyboardInterrupt

    return train(
        *data,
        out_dir,
        SMALL_CONFIG,
        options,
        resume_from=resume_from,
        log=log,
        show_progress=False,
    )


def states_equal(first: dict[str, torch.Tensor], second: dict[str, torch.Tensor]) -> bool:
    return first.keys() == second.keys() and all(torch.equal(first[k], second[k]) for k in first)


def test_same_seed_gives_identical_weights_and_other_seed_does_not(tmp_path, small_data):
    first = run_small(tmp_path / "a", small_data, epochs=1, seed=3)
    second = run_small(tmp_path / "b", small_data, epochs=1, seed=3)
    other = run_small(tmp_path / "c", small_data, epochs=1, seed=4)
    assert states_equal(first.model.state_dict(), second.model.state_dict())
    assert (
        first.history[0]["validation_reconstruction"]
        == second.history[0]["validation_reconstruction"]
    )
    assert not states_equal(first.model.state_dict(), other.model.state_dict())


@pytest.mark.parametrize("schedule", ["cosine", "constant"])
def test_resume_reaches_the_same_weights_as_an_uninterrupted_run(tmp_path, small_data, schedule):
    # Split after epoch 2 of 3, where the cosine rate of epoch 3 depends on the total.
    straight = run_small(tmp_path / "straight", small_data, epochs=3, schedule=schedule)
    if schedule == "cosine":  # a 3-epoch run stopped after epoch 2
        stopped = run_small(tmp_path / "split", small_data, 3, schedule=schedule, stop_after=2)
    else:  # a finished 2-epoch run, extended: nothing depends on the total
        stopped = run_small(tmp_path / "split", small_data, 2, schedule=schedule)
    assert stopped.epochs_done == 2
    resumed = run_small(
        tmp_path / "split",
        small_data,
        epochs=3,
        schedule=schedule,
        resume_from=load_checkpoint(tmp_path / "split"),
    )
    assert resumed.epochs_done == 3
    assert states_equal(straight.model.state_dict(), resumed.model.state_dict())
    assert [e["train_kl"] for e in resumed.history] == [e["train_kl"] for e in straight.history]


def test_kl_warmup_weighs_the_kl_term_less_in_the_first_epochs(tmp_path, small_data):
    assert [TrainOptions(kl_warmup=4).kl_weight(epoch) for epoch in (1, 2, 4, 9)] == [
        0.25,
        0.5,
        1.0,
        1.0,
    ]

    def first_epoch(kl_warmup: int) -> dict[str, float]:
        options = TrainOptions(epochs=1, batch_size=64, kl_warmup=kl_warmup)
        run = tmp_path / f"warmup-{kl_warmup}"
        train(*small_data, run, SMALL_CONFIG, options, log=lambda _: None, show_progress=False)
        return load_checkpoint(run).history[0]

    plain, warmed = first_epoch(0), first_epoch(1000)  # KL weight 1, then 0.001
    # Barely held to the prior, the codes spread out: more KL, better reconstructions.
    assert warmed["train_kl"] > 1.5 * plain["train_kl"]
    assert warmed["validation_reconstruction"] < plain["validation_reconstruction"]
    assert load_checkpoint(tmp_path / "warmup-1000").options["kl_warmup"] == 1000


def test_resume_refuses_another_total_for_a_cosine_schedule(tmp_path, small_data):
    run_small(tmp_path, small_data, epochs=2)
    with pytest.raises(InputError, match="cosine"):
        run_small(tmp_path, small_data, epochs=3, resume_from=load_checkpoint(tmp_path))
    result = CliRunner().invoke(
        main, ["train", "--out", str(tmp_path), "--resume", "--epochs", "3"]
    )
    assert "--epochs 3" in one_line_error(result, "cosine")


def test_checkpoint_holds_config_history_and_loads_weights_only(tmp_path, small_data):
    result = run_small(tmp_path, small_data, epochs=2)
    checkpoint = load_checkpoint(tmp_path / "checkpoint.pt")
    assert checkpoint.config == SMALL_CONFIG
    assert checkpoint.epoch == 2
    assert checkpoint.history == result.history
    assert json.loads((tmp_path / "history.json").read_text()) == result.history
    assert states_equal(checkpoint.model_state, result.model.state_dict())
    assert not list(tmp_path.glob("*.tmp"))


@pytest.mark.parametrize("option", ["--epochs", "--batch-size", "--latent-dim"])
def test_train_rejects_non_positive_sizes(tmp_path, small_mnist_dir, option):
    result = CliRunner().invoke(
        main,
        ["train", option, "0", "--data-dir", str(small_mnist_dir), "--out", str(tmp_path / "r")],
    )
    assert option in one_line_error(result)
    assert not (tmp_path / "r").exists()


def test_train_rejects_an_out_path_that_cannot_be_written(tmp_path, small_mnist_dir):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = CliRunner().invoke(
        main, ["train", "--data-dir", str(small_mnist_dir), "--out", str(blocker / "run")]
    )
    assert "--out" in one_line_error(result)


def test_train_reports_missing_and_corrupted_data(tmp_path):
    result = CliRunner().invoke(
        main, ["train", "--data-dir", str(tmp_path / "nowhere"), "--out", str(tmp_path / "r")]
    )
    assert "nowhere" in one_line_error(result)

    broken = tmp_path / "broken"
    broken.mkdir()
    for name in ("train-images-idx3-ubyte", "t10k-images-idx3-ubyte"):
        (broken / name).write_bytes(b"\x00\x00\x08\x03" + b"\x00\x00\x00\x05" * 3 + b"\x01" * 7)
    for name in ("train-labels-idx1-ubyte", "t10k-labels-idx1-ubyte"):
        (broken / name).write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x05" + b"\x01" * 5)
    result = CliRunner().invoke(
        main, ["train", "--data-dir", str(broken), "--out", str(tmp_path / "r2")]
    )
    assert "truncated" in one_line_error(result)


def test_train_refuses_to_overwrite_a_run_or_resume_with_other_settings(tmp_path, small_data):
    run_small(tmp_path, small_data, epochs=2)
    runner = CliRunner()
    assert "--resume" in one_line_error(runner.invoke(main, ["train", "--out", str(tmp_path)]))
    result = runner.invoke(main, ["train", "--out", str(tmp_path), "--resume", "--latent-dim", "9"])
    assert "--latent-dim" in one_line_error(result)
    result = runner.invoke(main, ["train", "--out", str(tmp_path), "--resume", "--epochs", "1"])
    assert "already trained 2" in one_line_error(result)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--lr", "nan"], "--lr"),
        (["--lr", "inf"], "--lr"),
        (["--input-flip", "nan"], "--input-flip"),
        (["--seed", str(2**64)], "--seed"),
        (["--seed", "-1"], "--seed"),
        (["--hidden", str(10**12)], "--hidden"),
        (["--latent-dim", str(10**12)], "--latent-dim"),
        (["--device", "meta"], "meta"),
        (["--device", "cuda:99"], "cuda:99"),
    ],
)
def test_train_refuses_option_values_click_lets_through(tmp_path, small_mnist_dir, args, fragment):
    result = CliRunner().invoke(
        main, ["train", *args, "--data-dir", str(small_mnist_dir), "--out", str(tmp_path / "r")]
    )
    assert fragment in one_line_error(result)
    assert not (tmp_path / "r").exists()


def test_a_diverging_run_stops_with_one_line_and_keeps_the_last_finite_checkpoint(
    tmp_path, small_data
):
    with pytest.raises(TrainingError, match="not finite"):
        train(
            *small_data,
            tmp_path / "lib",
            SMALL_CONFIG,
            TrainOptions(epochs=2, lr=1e30),
            log=lambda _: None,
            show_progress=False,
        )
    checkpoint = load_checkpoint(tmp_path / "lib")
    assert checkpoint.epoch == 0
    assert all(torch.isfinite(value).all() for value in checkpoint.model_state.values())
    # history.json stays strict JSON (no NaN) however a run ends.
    json.loads((tmp_path / "lib" / "history.json").read_text(), parse_constant=refuse_constant)


def refuse_constant(name: str) -> None:
    raise AssertionError(f"{name} is not strict JSON")


def test_train_cli_stops_a_diverging_run(tmp_path, small_mnist_dir):
    args = ["--epochs", "1", "--hidden", "8", "--latent-dim", "2", "--lr", "1e30", "--quiet"]
    out = tmp_path / "run"
    result = CliRunner().invoke(
        main, ["train", *args, "--data-dir", str(small_mnist_dir), "--out", str(out)]
    )
    error_after_progress(result, "not finite", "--lr")
    assert load_checkpoint(out).epoch == 0


def test_bad_data_or_a_missing_checkpoint_leave_no_out_folder(tmp_path, mnist_dir):
    broken = tmp_path / "broken"
    shutil.copytree(mnist_dir, broken)
    (broken / "t10k-labels-idx1-ubyte.gz").unlink()
    result = CliRunner().invoke(
        main, ["train", "--data-dir", str(broken), "--out", str(tmp_path / "r")]
    )
    one_line_error(result, "t10k-labels")
    result = CliRunner().invoke(
        main, ["train", "--resume", "--data-dir", str(mnist_dir), "--out", str(tmp_path / "r2")]
    )
    one_line_error(result, "--resume", "checkpoint not found")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken"]


def test_a_second_train_into_a_locked_run_folder_fails_in_one_line(tmp_path, small_mnist_dir):
    out = tmp_path / "run"
    out.mkdir()
    with train_module.lock_run_folder(out):
        result = CliRunner().invoke(
            main, ["train", "--data-dir", str(small_mnist_dir), "--out", str(out), "--epochs", "1"]
        )
        assert f"pid {os.getpid()}" in one_line_error(result, "another vae-edge train")
    assert not (out / "checkpoint.pt").exists()


def test_a_second_train_fails_on_the_lock_before_loading_any_data(tmp_path, small_mnist_dir):
    broken = shutil.copytree(small_mnist_dir, tmp_path / "broken")
    (broken / "train-images-idx3-ubyte.gz").write_bytes(b"not MNIST")
    out = tmp_path / "run"
    out.mkdir()
    with train_module.lock_run_folder(out):
        result = CliRunner().invoke(main, ["train", "--data-dir", str(broken), "--out", str(out)])
        one_line_error(result, "another vae-edge train")  # not the data's error


def test_bad_data_remove_the_folders_train_made_and_only_those(tmp_path, small_mnist_dir):
    broken = shutil.copytree(small_mnist_dir, tmp_path / "broken")
    (broken / "train-images-idx3-ubyte.gz").write_bytes(b"not MNIST")
    (tmp_path / "existing").mkdir()
    for out in (tmp_path / "new" / "deep" / "run", tmp_path / "existing"):
        result = CliRunner().invoke(main, ["train", "--data-dir", str(broken), "--out", str(out)])
        one_line_error(result, "train-images-idx3-ubyte.gz")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken", "existing"]
    assert list((tmp_path / "existing").iterdir()) == []


def test_the_write_probe_is_named_for_its_own_process(tmp_path):
    # A fixed name (.vae-edge-write-test) let two trains remove each other's probe.
    (tmp_path / ".vae-edge-write-test").mkdir()  # e.g. another run's, mid-probe
    assert training_commands.prepare_out_dir(tmp_path) is None
    assert [p.name for p in tmp_path.iterdir()] == [".vae-edge-write-test"]


def test_the_lock_removes_temporaries_of_dead_processes_only(tmp_path, dead_pid):
    orphan = tmp_path / f".checkpoint.pt.{dead_pid}.0123abcd.tmp"
    live = tmp_path / f".checkpoint.pt.{os.getpid()}.0123abcd.tmp"
    orphan.write_bytes(b"35 MB once")
    live.write_bytes(b"being written")
    with train_module.lock_run_folder(tmp_path):
        pass
    assert not orphan.exists() and live.exists()


def test_the_lock_file_goes_when_the_run_ends_and_a_new_run_locks_afresh(tmp_path):
    lock = tmp_path / train_module.LOCK_NAME
    with train_module.lock_run_folder(tmp_path):
        assert lock.read_text() == f"pid {os.getpid()}"
    assert not lock.exists()
    with train_module.lock_run_folder(tmp_path):
        with pytest.raises(train_module.RunFolderBusy), train_module.lock_run_folder(tmp_path):
            pass
        assert lock.exists()
    assert list(tmp_path.iterdir()) == []


def test_write_errors_during_training_are_one_line_and_figures_can_be_redrawn(
    tmp_path, small_mnist_dir
):
    out = tmp_path / "run"
    out.mkdir()
    (out / "samples.png").mkdir()  # a folder where a figure should go
    args = ["train", "--epochs", "1", "--hidden", "8", "--latent-dim", "2", "--quiet"]
    args += ["--data-dir", str(small_mnist_dir), "--out", str(out)]
    error_after_progress(CliRunner().invoke(main, args), "samples.png", "redraws the figures")
    (out / "samples.png").rmdir()
    result = CliRunner().invoke(
        main, ["train", "--out", str(out), "--resume", "--data-dir", str(small_mnist_dir)]
    )
    assert result.exit_code == 0, result.output
    assert "redrew its 4 figures" in result.output
    for name in FIGURE_NAMES:
        with Image.open(out / name) as image:
            assert image.format == "PNG"

    blocked = tmp_path / "blocked"
    (blocked / "history.json").mkdir(parents=True)  # the first checkpoint write fails
    args[-1] = str(blocked)
    error_after_progress(CliRunner().invoke(main, args), "history.json", "cannot write")


def test_resume_with_other_data_says_so(tmp_path, small_data):
    messages = []
    options = TrainOptions(epochs=1, batch_size=64, lr_schedule="constant")
    train(*small_data, tmp_path, SMALL_CONFIG, options, log=messages.append, show_progress=False)
    assert not any("warning" in m for m in messages)
    train(
        small_data[0][:1000],
        small_data[1],
        tmp_path,
        SMALL_CONFIG,
        TrainOptions(epochs=2, batch_size=64, lr_schedule="constant"),
        resume_from=load_checkpoint(tmp_path),
        log=messages.append,
        show_progress=False,
    )
    assert any("data differ" in m for m in messages)


def cli_env(mnist_dir: Path) -> dict[str, str]:
    return {**os.environ, "VAE_EDGE_DATA": str(mnist_dir), "PYTHONUNBUFFERED": "1"}


@pytest.mark.slow
def test_ctrl_c_leaves_a_checkpoint_that_resume_completes(tmp_path, mnist_dir):
    out_dir = tmp_path / "run"
    args = [
        "train",
        "--epochs",
        "30",
        "--hidden",
        "64",
        "--latent-dim",
        "4",
        "--lr-schedule",  # a constant rate: the resumed run may stop short of the 30 epochs
        "constant",
        "--out",
        str(out_dir),
        "--quiet",
    ]
    process = subprocess.Popen(
        cli_process_command(*args),
        env=cli_env(mnist_dir),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output = []
    for line in process.stdout:
        output.append(line)
        if line.startswith("epoch   1/30"):
            process.send_signal(signal.SIGINT)
            break
    output.append(process.communicate(timeout=120)[0])
    text = "".join(output)
    assert process.returncode == 130, text
    assert "Traceback" not in text
    assert "interrupted" in text
    checkpoint = load_checkpoint(out_dir)
    assert 1 <= checkpoint.epoch < 30
    assert len(checkpoint.history) == checkpoint.epoch

    target = str(checkpoint.epoch + 1)
    resumed = subprocess.run(
        cli_process_command(
            "train",
            "--out",
            str(out_dir),
            "--resume",
            "--epochs",
            target,
            "--quiet",
            "--hidden",
            "64",
        ),
        env=cli_env(mnist_dir),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert load_checkpoint(out_dir).epoch == int(target)


@pytest.mark.slow
def test_train_end_to_end_on_real_mnist(tmp_path, mnist_dir):
    out_dir = tmp_path / "run"
    result = subprocess.run(
        # A narrower model than the default: the command end to end on all 60,000 images,
        # without the default's arithmetic (benchmarks.train_loop times that).
        cli_process_command("train", "--epochs", "2", "--hidden", "128", "--out", str(out_dir)),
        env=cli_env(mnist_dir),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert "epoch   2/2" in result.stdout
    history = json.loads((out_dir / "history.json").read_text())
    assert len(history) == 2
    assert history[1]["validation_reconstruction"] < history[0]["validation_reconstruction"]
    loss = [e["validation_reconstruction"] + e["validation_kl"] for e in history]
    assert loss[1] < loss[0]
    assert load_checkpoint(out_dir).epoch == 2
    for name in FIGURE_NAMES:
        with Image.open(out_dir / name) as image:
            image.verify()
            assert image.format == "PNG"
            assert min(image.size) > 50


def test_flip_pixels_flips_each_image_at_its_own_rate():
    generator = torch.Generator().manual_seed(0)
    clean = torch.zeros(4000, 196)
    rates = flip_pixels(clean, 0.4, generator).mean(dim=1)
    # Rates from U(0, 0.4), one per image; 196 pixels add a binomial spread of ~0.035.
    assert rates.max() < 0.55 and rates.min() < 0.01
    assert abs(rates.mean().item() - 0.2) < 0.01
    ones = flip_pixels(torch.ones(4000, 196), 0.4, generator)
    assert set(ones.unique().tolist()) == {0.0, 1.0} and abs(ones.mean().item() - 0.8) < 0.01


def test_training_and_runtime_flip_with_the_same_rule():
    """Training's torch noise and the runtime's numpy noise are one rule (`apply_flips`):
    the same uniform draws flip the same pixels in both."""
    images = (np.random.default_rng(0).random((64, 196)) < 0.3).astype(np.float32)
    uniforms = np.random.default_rng(1).random(images.shape, dtype=np.float32)
    rates = np.linspace(0.0, 0.5, 64, dtype=np.float32)[:, None]
    expected = np.where(uniforms < rates, 1 - images, images)
    by_numpy = apply_flips(images, rates, uniforms)
    by_torch = apply_flips(
        torch.from_numpy(images), torch.from_numpy(rates), torch.from_numpy(uniforms)
    )
    assert np.array_equal(by_numpy, expected) and by_numpy.dtype == np.float32
    assert np.array_equal(by_torch.numpy(), expected)
    assert 0 < np.mean(by_numpy != images) < 0.5


def test_denoising_training_encodes_flipped_images_and_scores_the_clean_ones(
    tmp_path, small_data, monkeypatch
):
    encoded, scored = [], []
    real_loss_terms = train_module.loss_terms

    def spy_loss_terms(images, *outputs):
        scored.append(images.clone())
        return real_loss_terms(images, *outputs)

    monkeypatch.setattr(train_module, "loss_terms", spy_loss_terms)
    model = VAE(SMALL_CONFIG)
    model.encoder.register_forward_pre_hook(lambda _, args: encoded.append(args[0].clone()))
    images = torch.from_numpy(small_data[0][:512])
    generator = torch.Generator().manual_seed(0)
    optimizer = torch.optim.Adam(model.parameters())
    train_module.train_epoch(model, optimizer, images, 256, generator, input_flip=0.3)
    assert len(encoded) == len(scored) == 2
    for seen, target in zip(encoded, scored, strict=True):
        # The target is a batch of clean training images; the encoder saw them flipped.
        assert all(any(torch.equal(row, image) for image in images) for row in target[:20])
        flipped = (seen != target).float().mean(dim=1)
        assert 0.1 < flipped.mean() < 0.2 and flipped.max() < 0.4

    train_module.train_epoch(model, optimizer, images, 256, generator)
    assert len(encoded) == 4
    assert torch.equal(encoded[2], scored[2])  # input_flip 0: the encoder sees clean images


def damaged_checkpoint(checkpoint, damage: str):
    """A copy of `checkpoint` that loads as a file but does not fit its own config."""
    weights = dict(checkpoint.model_state)
    if damage == "weights of another shape":
        return dataclasses.replace(
            checkpoint, config=dataclasses.replace(checkpoint.config, latent_dim=3)
        )
    if damage == "a missing weight":
        weights.pop(next(iter(weights)))
        return dataclasses.replace(checkpoint, model_state=weights)
    if damage == "an unknown option":
        return dataclasses.replace(checkpoint, options={**checkpoint.options, "warp": 9})
    if damage == "an optimizer state of another shape":
        optimizer = copy.deepcopy(checkpoint.optimizer_state)
        optimizer["state"][0]["exp_avg"] = torch.zeros(3)
        return dataclasses.replace(checkpoint, optimizer_state=optimizer)
    return dataclasses.replace(checkpoint, rng_state=torch.zeros(5))  # a bad RNG state


@pytest.mark.parametrize(
    "damage",
    [
        "weights of another shape",
        "a missing weight",
        "an unknown option",
        "an optimizer state of another shape",
        "a bad RNG state",
    ],
)
def test_a_checkpoint_that_does_not_fit_is_one_line_for_resume_and_export(
    tmp_path, small_run, mnist_dir, damage
):
    run = tmp_path / "run"
    run.mkdir()
    damaged_checkpoint(load_checkpoint(small_run), damage).save(run / "checkpoint.pt")
    with pytest.raises(CheckpointError, match=r"checkpoint\.pt"):
        load_checkpoint(run)
    result = CliRunner().invoke(
        main,
        ["train", "--resume", "--epochs", "3", "--data-dir", str(mnist_dir), "--out", str(run)],
    )
    one_line_error(result, "--resume", "checkpoint.pt")
    one_line_error(CliRunner().invoke(main, ["export", str(run), "-o", str(tmp_path / "m")]))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def resume_and_export(run: Path, tmp_path: Path, mnist_dir: Path) -> tuple:
    """The results of `train --resume` on `run` and of `export` of it."""
    resume = ["train", "--resume", "--data-dir", str(mnist_dir), "--out", str(run)]
    export = ["export", str(run), "-o", str(tmp_path / "model")]
    return CliRunner().invoke(main, resume), CliRunner().invoke(main, export)


@pytest.mark.parametrize(
    ("history", "fragment"),
    [
        ("x", "history is str, expected a list"),
        ([1, 2], "history entry 0 is 1, expected a dict"),
        ("nan", "history entry 1: train_kl is nan"),
        ("missing", "history entry 1: seconds is None"),
        ("short", "history holds 1 epochs, the checkpoint 2"),
        ("negative epoch", "epoch is -3, expected an integer >= 0"),
    ],
)
def test_a_checkpoint_with_a_malformed_history_is_one_line_for_resume_and_export(
    tmp_path, small_run, mnist_dir, history, fragment
):
    checkpoint = load_checkpoint(small_run)
    first, last = checkpoint.history
    if history == "nan":
        history = [first, {**last, "train_kl": float("nan")}]
    elif history == "missing":
        history = [first, {key: value for key, value in last.items() if key != "seconds"}]
    elif history == "short":
        history = [first]
    elif history == "negative epoch":
        checkpoint, history = dataclasses.replace(checkpoint, epoch=-3), []
    run = tmp_path / "run"
    run.mkdir()
    dataclasses.replace(checkpoint, history=history).save(run / "checkpoint.pt")
    with pytest.raises(CheckpointError, match="malformed checkpoint"):
        load_checkpoint(run)
    resumed, exported = resume_and_export(run, tmp_path, mnist_dir)
    one_line_error(resumed, "--resume", "checkpoint.pt", fragment)
    one_line_error(exported, "checkpoint.pt", fragment)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
    assert [p.name for p in run.iterdir()] == ["checkpoint.pt"]  # no figure redrawn


def test_a_checkpoint_of_an_unknown_format_is_one_line_for_resume_and_export(
    tmp_path, small_run, mnist_dir
):
    payload = torch.load(small_run / "checkpoint.pt", weights_only=True)
    payload["format"] = 2
    run = tmp_path / "run"
    run.mkdir()
    torch.save(payload, run / "checkpoint.pt")
    for result in resume_and_export(run, tmp_path, mnist_dir):
        one_line_error(result, "checkpoint.pt: checkpoint format 2 is not one this vae-edge")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("kl_warmup", float("nan")),
        ("kl_warmup", 1.5),
        ("seed", float("nan")),
        ("seed", -1),
        ("seed", 2**64),
        ("epochs", 2.5),
        ("device", 5),
    ],
)
def test_a_checkpoint_with_malformed_options_is_one_line_for_resume_and_export(
    tmp_path, small_run, small_mnist_dir, option, value
):
    checkpoint = load_checkpoint(small_run)
    run = tmp_path / "run"
    run.mkdir()
    options = {**checkpoint.options, option: value}
    dataclasses.replace(checkpoint, options=options).save(run / "checkpoint.pt")
    for result in resume_and_export(run, tmp_path, small_mnist_dir):
        one_line_error(result, "checkpoint.pt: malformed checkpoint", option)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_a_full_disk_at_a_checkpoint_is_one_line_and_leaves_no_temporary(tmp_path, small_mnist_dir):
    out = tmp_path / "run"
    args = ["train", "--epochs", "1", "--hidden", "64", "--latent-dim", "2", "--quiet"]
    result = subprocess.run(
        cli_process_command(*args, "--out", str(out)),
        env=cli_env(small_mnist_dir),
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=file_size_limit(4096),
    )
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("Error: ")
    assert "checkpoint.pt: cannot write it (File too large)" in result.stderr
    assert list(out.iterdir()) == []
