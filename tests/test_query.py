import random
from urllib.parse import parse_qs

import pytest

from mnist_core.config import TrainConfig, fields
from mnist_core.presets import PRESETS
from mnist_core.query import closest_preset, encode_query, parse_query, query_string


def test_the_issue_example_applies_the_preset_and_names_each_ignored_part():
    values, warnings, preset = parse_query({"preset": "mlp_classic", "epochs": "3", "bogus": "1", "lr": "99"})
    assert preset == "mlp_classic"
    assert values == PRESETS["mlp_classic"].config().replace(epochs=3).to_dict()
    assert len(warnings) == 2
    assert "'bogus' is not a training setting" in warnings[0]
    assert warnings[1].startswith("lr: 99.0 is outside the allowed range")


def test_an_unknown_preset_falls_back_to_the_defaults_and_keeps_the_valid_fields():
    values, warnings, preset = parse_query({"preset": "nope", "epochs": "2"})
    assert preset is None
    assert values == TrainConfig(epochs=2).to_dict()
    assert len(warnings) == 1 and "preset 'nope' is unknown" in warnings[0] and "mlp_classic" in warnings[0]


@pytest.mark.parametrize(
    "query, field",
    [
        ({"epochs": "abc"}, "epochs"),
        ({"epochs": "2.5"}, "epochs"),
        ({"epochs": ""}, "epochs"),
        ({"lr": "nan"}, "lr"),
        ({"optimizer": "rmsprop"}, "optimizer"),
        ({"batch_norm": "maybe"}, "batch_norm"),
        ({"hidden_sizes": "100000"}, "hidden_sizes"),
    ],
)
def test_a_bad_value_is_ignored_with_a_warning_naming_the_field(query, field):
    values, warnings, _ = parse_query(query)
    assert values == TrainConfig().to_dict()
    assert len(warnings) == 1 and warnings[0].startswith(f"{field}:") and warnings[0].endswith("ignored")


def test_a_very_long_value_is_not_echoed_whole():
    _, warnings, _ = parse_query({"model": "x" * 10_000, "y" * 10_000: "1"})
    assert len(warnings) == 2 and all(len(w) < 300 for w in warnings)


def test_combinations_are_checked_whatever_the_order():
    # nesterov needs sgd: accepted although it comes first
    values, warnings, _ = parse_query({"nesterov": "true", "optimizer": "sgd"})
    assert (values["nesterov"], values["optimizer"], warnings) == (True, "sgd", [])
    values, warnings, _ = parse_query({"nesterov": "true"})  # adamw by default: refused
    assert values["nesterov"] is False
    assert len(warnings) == 1 and warnings[0].startswith("nesterov=true conflicts") and "sgd" in warnings[0]
    values, warnings, _ = parse_query({"train_size": "100", "batch_size": "256"})
    assert len(warnings) == 1 and (values["train_size"], values["batch_size"]) in ((100, 128), (0, 256))


def test_query_lists_dashes_and_repeated_keys():
    values, warnings, _ = parse_query(parse_qs("batch-size=64&epochs=2&epochs=4"))
    assert (values["batch_size"], values["epochs"], warnings) == (64, 4, [])


def test_encoding_writes_only_what_differs_from_the_preset():
    cfg = PRESETS["mlp_classic"].config().replace(epochs=3, lr=0.1)
    assert encode_query(cfg, "mlp_classic") == {"preset": "mlp_classic", "lr": "0.1", "epochs": "3"}
    assert query_string(cfg, "mlp_classic") == "preset=mlp_classic&lr=0.1&epochs=3"
    assert encode_query(TrainConfig()) == {} and query_string(TrainConfig()) == ""
    assert encode_query(TrainConfig(batch_norm=False, lr=1e-5)) == {"batch_norm": "false", "lr": "1e-05"}
    assert closest_preset(cfg) == "mlp_classic"


def _random_config(rng: random.Random) -> TrainConfig:
    while True:
        values = {}
        for f in fields():
            m = f.metadata
            if "choices" in m:
                values[f.name] = rng.choice(m["choices"])
            elif m.get("kind") == "int_list":
                values[f.name] = ",".join(str(rng.randint(1, 300)) for _ in range(rng.randint(1, 3)))
            elif "min" in m:
                value = rng.uniform(m["min"], m["max"])
                values[f.name] = round(value) if f.type == "int" else value
            else:
                values[f.name] = rng.random() < 0.5
        try:
            return TrainConfig(**values).validate()
        except ValueError:
            continue


@pytest.mark.parametrize("preset", [None, *PRESETS])
def test_round_trip_through_a_url(preset):
    rng = random.Random(hash(preset) % 1000)
    for _ in range(25):
        cfg = _random_config(rng)
        text = query_string(cfg, preset)
        values, warnings, parsed_preset = parse_query(parse_qs(text, keep_blank_values=True))
        assert (TrainConfig.from_dict(values), warnings, parsed_preset) == (cfg, [], preset)
