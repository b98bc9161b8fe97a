import re
import subprocess
import sys

import pytest

from mnist_core.checkpoint import read_checkpoint
from mnist_core.cli import build_parser, config_from_args
from mnist_core.config import TrainConfig, fields
from mnist_core.presets import BEST_PRESET, DEFAULT_PRESET, PRESETS, get_preset, preset_values

FIELD_NAMES = {f.name for f in fields()}


@pytest.mark.parametrize("name", list(PRESETS))
def test_each_preset_is_valid_and_described(name):
    preset = PRESETS[name]
    assert preset.name == name
    assert preset.title and "\n" not in preset.title
    assert preset.description and "\n" not in preset.description
    assert preset.config() == TrainConfig.from_dict(preset.values)  # validated by TrainConfig
    # No times: the estimate is their one source (a description said 4 minutes beside an estimate of 6).
    assert not re.search(r"\b(seconds?|minutes?|hours?|min|s)\b|\bCPU|\bGPU", preset.description), preset.description


@pytest.mark.parametrize("name", list(PRESETS))
def test_a_preset_pins_every_field_or_none(name):
    assert set(PRESETS[name].values) in (set(), FIELD_NAMES)


def test_the_default_preset_is_the_defaults_and_the_issue_recipes_are_there():
    assert get_preset(DEFAULT_PRESET).config() == TrainConfig()
    mlp_adam, classic, bn = (
        PRESETS["mlp_adam"].config(),
        PRESETS["mlp_classic"].config(),
        PRESETS["mlp_bn_mish"].config(),
    )
    assert (mlp_adam.model, mlp_adam.hidden, mlp_adam.activation, mlp_adam.optimizer) == (
        "mlp",
        (64, 32),
        "relu",
        "adam",
    )
    assert (classic.hidden, classic.dropout, classic.optimizer, classic.scheduler) == ((256, 128), 0.2, "sgd", "step")
    assert classic.momentum > 0
    assert (bn.batch_norm, bn.activation, bn.rotation > 0) == (True, "mish", True)


def test_the_best_preset_is_the_bundled_models_config_and_predicts_default_recipe(default_checkpoint):
    from mnist_core.predict import DEFAULT_RECIPE

    bundled = read_checkpoint(default_checkpoint)["config"]
    assert PRESETS[BEST_PRESET].config() == bundled
    assert DEFAULT_RECIPE == PRESETS[BEST_PRESET].values


def test_unknown_preset_names_the_known_ones():
    with pytest.raises(ValueError, match=r"preset: 'nope' is not one of cnn_fast, "):
        get_preset("nope")


def test_preset_values_fill_every_field():
    assert set(preset_values("cnn_fast")) == FIELD_NAMES


def _cli_config(*argv):
    parser, subs = build_parser()
    args = parser.parse_args(["train", *argv])
    return config_from_args(subs["train"], args)


def test_cli_preset_then_flags_override_it():
    assert _cli_config("--preset", "mlp_classic") == PRESETS["mlp_classic"].config()
    cfg = _cli_config("--preset", "mlp_classic", "--epochs", "3", "--lr", "0.1", "--no-batch-norm")
    assert cfg == PRESETS["mlp_classic"].config().replace(epochs=3, lr=0.1)
    assert _cli_config("--epochs", "2") == TrainConfig(epochs=2)  # no preset: the defaults


def test_cli_rejects_an_unknown_preset_and_lists_them_in_help():
    result = subprocess.run(
        [sys.executable, "-m", "mnist_core", "train", "--preset", "nope"], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 2 and "--preset" in result.stderr and "mlp_classic" in result.stderr
    help_text = subprocess.run(
        [sys.executable, "-m", "mnist_core", "train", "--help"], capture_output=True, text=True, timeout=300
    ).stdout
    for preset in PRESETS.values():
        assert preset.name in help_text
