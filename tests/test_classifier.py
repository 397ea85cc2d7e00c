"""The latent digit classifier: training, export into a model folder, classify, --digit."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from cli_checks import one_line_error
from click.testing import CliRunner

from vae_edge import runtime
from vae_edge.cli import main
from vae_edge.config import DEFAULT_ATOL
from vae_edge.export.classifier_graph import add_classifier
from vae_edge.export.onnx_export import ExportError
from vae_edge.mnist import load_labels, load_split
from vae_edge.models import bundled_model_names
from vae_edge.runtime import ModelFileError
from vae_edge.runtime.evaluate import classification_accuracy
from vae_edge.runtime.noise import flip_pixels
from vae_edge.training.classifier import LatentClassifier, fit_candidates
from vae_edge.training.options import ClassifierOptions


def invoke(*args):
    return CliRunner().invoke(main, [*map(str, args)])


@pytest.fixture(scope="module")
def labelled(mnist_dir):
    return {
        split: (load_split(mnist_dir, split), load_labels(mnist_dir, split))
        for split in ("train", "validation")
    }


@pytest.fixture(scope="module")
def classified_dir(small_model_dir, tmp_path_factory, mnist_dir) -> Path:
    """The small model with a classifier added by the real command (one epoch, clean images)."""
    model_dir = tmp_path_factory.mktemp("classified") / "model"
    shutil.copytree(small_model_dir, model_dir)
    result = invoke(
        "train-classifier", "--model", model_dir, "--epochs", 1, "--input-flip", 0,
        "--data-dir", mnist_dir,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "<- chosen" in result.output and "classifier.onnx" in result.output
    return model_dir


def test_train_classifier_declares_a_checked_graph_in_the_manifest(classified_dir):
    manifest = runtime.read_manifest(classified_dir)
    assert manifest.classifier is not None
    assert (manifest.classifier.inputs, manifest.classifier.outputs) == (
        ("mu",),
        ("probabilities",),
    )
    summary = manifest.training["classifier"]
    assert summary["chosen"] in summary["validation_accuracy"]
    assert summary["worst_abs_difference"] <= DEFAULT_ATOL
    info = invoke("info", "--model", classified_dir)
    assert "classifier   classifier.onnx" in info.output and "mu -> probabilities" in info.output


def test_classify_returns_digits_and_probabilities(classified_dir, labelled):
    model = runtime.load(classified_dir)
    images, labels = labelled["validation"]
    digits, probabilities = model.classify(images)
    assert digits.shape == (1000,) and digits.dtype == np.int64
    assert probabilities.shape == (1000, 10) and probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    assert np.array_equal(digits, probabilities.argmax(axis=1))
    assert np.mean(digits == labels) > 0.5  # a 6-dim latent after one epoch; chance is 0.1


def test_classify_command_prints_each_file_with_its_digit(classified_dir, tmp_path, labelled):
    from PIL import Image

    model = runtime.load(classified_dir)
    images = labelled["validation"][0][:3]
    paths = []
    for index, image in enumerate(images):
        paths.append(tmp_path / f"digit{index}.png")
        Image.fromarray((image.reshape(14, 14) * 255).astype(np.uint8)).resize((28, 28)).save(
            paths[-1]
        )
    result = invoke("classify", "--model", classified_dir, *paths)
    assert result.exit_code == 0, result.output
    digits, probabilities = model.classify(images)
    for path, digit, row, line in zip(
        paths, digits, probabilities, result.output.splitlines(), strict=True
    ):
        assert line == f"{path}: {digit} (confidence {row[digit]:.3f})"


def test_a_classifier_that_disagrees_with_torch_leaves_the_folder_untouched(
    classified_dir, tmp_path
):
    model_dir = tmp_path / "model"
    shutil.copytree(classified_dir, model_dir)
    before = {path.name: path.read_bytes() for path in model_dir.iterdir()}
    classifier = LatentClassifier(6, (8,))
    codes = np.random.default_rng(0).standard_normal((64, 6)).astype(np.float32)
    with pytest.raises(ExportError, match="validation FAILED"):
        add_classifier(model_dir, classifier, {}, codes, atol=1e-12)
    assert {path.name: path.read_bytes() for path in model_dir.iterdir()} == before


def test_a_tampered_classifier_is_named(classified_dir, tmp_path):
    model_dir = tmp_path / "model"
    shutil.copytree(classified_dir, model_dir)
    graph = model_dir / "classifier.onnx"
    graph.write_bytes(graph.read_bytes()[:-1] + b"\x00")
    with pytest.raises(ModelFileError, match=r"classifier\.onnx: SHA-256 does not match"):
        runtime.load(model_dir)


def test_a_folder_from_before_classifiers_and_ir_versions_still_loads(small_model_dir, tmp_path):
    model_dir = tmp_path / "model"
    shutil.copytree(small_model_dir, model_dir)
    manifest = json.loads((model_dir / "manifest.json").read_text())
    del manifest["ir_version"]
    (model_dir / "manifest.json").write_text(json.dumps(manifest))
    model = runtime.load(model_dir)
    assert not model.has_classifier and model.manifest.ir_version is None
    with pytest.raises(ModelFileError, match=r"no digit classifier.*train-classifier"):
        model.classify(np.zeros((1, 196)))
    with pytest.raises(ModelFileError, match="no digit classifier"):
        model.generate(4, digit=3)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["generate", "--digit", "3", "-o", "{tmp}/g.png"], "no digit classifier"),
        (["classify", "{digit}"], "no digit classifier"),
    ],
)
def test_commands_that_need_a_classifier_say_so_in_one_line(
    small_model_dir, tmp_path, args, message
):
    digit = Path(__file__).resolve().parents[1] / "docs" / "digit_a.png"
    filled = [arg.format(tmp=tmp_path, digit=digit) for arg in args]
    one_line_error(invoke(*filled, "--model", small_model_dir), message)
    assert not (tmp_path / "g.png").exists()


@pytest.mark.parametrize("flip", ["nan", "inf", "0.6", "-0.1"])
def test_train_classifier_refuses_a_flip_rate_outside_0_to_half(small_model_dir, flip):
    manifest = (small_model_dir / "manifest.json").read_bytes()
    result = invoke("train-classifier", "--model", small_model_dir, "--input-flip", flip)
    one_line_error(result, "--input-flip")
    assert (small_model_dir / "manifest.json").read_bytes() == manifest


@pytest.mark.parametrize("digit", ["10", "-1", "seven"])
def test_generate_refuses_a_digit_outside_0_to_9(classified_dir, tmp_path, digit):
    one_line_error(
        invoke("generate", "--model", classified_dir, "--digit", digit, "-o", tmp_path / "g.png"),
        "--digit",
    )


@pytest.mark.parametrize("digit", [10, -1, 2.0, True])
def test_generate_refuses_a_digit_that_is_not_0_to_9(classified_dir, digit):
    with pytest.raises(ValueError, match="digit must be an integer 0-9"):
        runtime.load(classified_dir).generate(2, digit=digit)


def test_generate_digit_is_reproducible_whatever_the_chunk_size():
    model = runtime.load()
    first = model.generate(50, seed=4, digit=1)
    assert np.array_equal(first, model.generate(50, seed=4, digit=1, chunk_size=7))
    assert not np.array_equal(first, model.generate(50, seed=5, digit=1))
    digits, probabilities = model.classify(first)
    assert model.digit_confidence == 0.99  # the default model's, from its manifest
    assert np.all(digits == 1) and np.all(probabilities[:, 1] >= model.digit_confidence)


def test_a_digit_the_classifier_never_gives_is_refused(classified_dir):
    model = runtime.load(classified_dir)
    model.digit_confidence = 1.01  # no probability reaches it
    with pytest.raises(ModelFileError, match="gives no prior sample to digit 3"):
        model.generate(5, seed=0, digit=3)


def test_train_classifier_records_the_digit_confidence_generate_uses(classified_dir):
    summary = runtime.read_manifest(classified_dir).training["classifier"]
    assert summary["digit_confidence"] == 0.99 == runtime.load(classified_dir).digit_confidence


def test_the_robust_model_generates_every_digit_at_its_own_confidence():
    model = runtime.load("robust")
    assert model.digit_confidence == 0.95
    digits = model.generate(2, seed=0, digit=8)  # its classifier rarely gives 8 above 0.99
    assert np.all(model.classify(digits)[1][:, 8] >= 0.95)


@pytest.fixture(scope="module")
def pixel_judge(labelled):
    """An independent judge: an MLP on the 196 pixels, trained here on all 60,000 labels."""
    torch.manual_seed(0)
    images, labels = (torch.from_numpy(array) for array in labelled["train"])
    judge = torch.nn.Sequential(
        torch.nn.Linear(196, 512), torch.nn.ReLU(), torch.nn.Linear(512, 10)
    )
    optimizer = torch.optim.Adam(judge.parameters(), lr=1e-3)
    for _ in range(4):
        for batch in torch.randperm(len(images)).split(128):
            loss = torch.nn.functional.cross_entropy(judge(images[batch]), labels[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    validation_images, validation_labels = labelled["validation"]
    with torch.no_grad():
        read = judge(torch.from_numpy(validation_images)).argmax(dim=1).numpy()
    # About as good as pixels of binarized 14x14 digits allow (a small CNN measured 95.3 %).
    assert np.mean(read == validation_labels) > 0.94
    return judge


def test_bundled_models_with_a_classifier_include_default_and_robust():
    with_classifier = [name for name in bundled_model_names() if runtime.load(name).has_classifier]
    assert {"default", "robust"} <= set(with_classifier)


@pytest.mark.slow
def test_generated_digits_are_the_digit_asked_for_by_an_independent_judge(pixel_judge):
    # The default model; the robust one's classifier is rarely this confident about prior
    # samples, so generating from it is slower: benchmarks/recognition.py measures it.
    model = runtime.load("default")
    generated = np.concatenate([model.generate(100, seed=0, digit=d) for d in range(10)])
    binarized = torch.from_numpy((generated.reshape(1000, 196) >= 0.5).astype(np.float32))
    with torch.no_grad():
        read = pixel_judge(binarized).argmax(dim=1).numpy()
    assert np.mean(read == np.repeat(np.arange(10), 100)) >= 0.95


def test_evaluate_reports_accuracy_clean_and_with_flipped_pixels(
    classified_dir, labelled, tmp_path, mnist_dir
):
    report = tmp_path / "scores.json"
    result = invoke(
        "evaluate", "--model", classified_dir, "--split", "validation", "--k", 2,
        "--data-dir", mnist_dir, "--json", report,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    accuracy = json.loads(report.read_text())["accuracy"]
    assert list(accuracy) == ["0", "0.05", "0.1", "0.2"]
    model = runtime.load(classified_dir)
    images, labels = labelled["validation"]
    assert accuracy["0"] == np.mean(model.classify(images)[0] == labels)
    noisy = flip_pixels(images, 0.2, np.random.default_rng(0))
    assert accuracy["0.2"] == np.mean(model.classify(noisy)[0] == labels)
    assert "20% flipped" in result.output


def test_accuracy_under_noise_falls_as_more_pixels_flip(classified_dir, labelled):
    accuracy = classification_accuracy(
        runtime.load(classified_dir), *labelled["validation"], rates=(0.0, 0.4)
    )
    assert accuracy[0.0] > accuracy[0.4] + 0.1


def test_candidates_learn_from_features_and_flip_augmentation_is_fresh_each_epoch(labelled):
    images, labels = (array[:6000] for array in labelled["train"])
    seen = []

    def features(batch):
        seen.append(batch.copy())
        return batch

    options = ClassifierOptions(epochs=3, input_flip=0.2)
    models = fit_candidates(features, images, labels, 196, options, {"lr": ()}, log=lambda _: 0)
    assert len(seen) == 3 and not np.array_equal(seen[0], seen[1])
    flipped = [np.mean(batch != images) for batch in seen]
    assert all(0.07 < share < 0.13 for share in flipped)  # U(0, 0.2) per image: 0.1 on average
    with torch.no_grad():
        predicted = models["lr"](torch.from_numpy(images)).argmax(dim=1).numpy()
    assert np.mean(predicted == labels) > 0.6
