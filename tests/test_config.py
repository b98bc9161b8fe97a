import math

import pytest
import torch

from mnist_core.config import TrainConfig, describe_range, field_type, fields


def test_defaults_are_valid():
    assert TrainConfig().validate() == TrainConfig()


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"lr": math.nan}, "lr"),
        ({"lr": math.inf}, "lr"),
        ({"lr": 0.0}, "lr"),
        ({"batch_size": 0}, "batch_size"),
        ({"batch_size": -5}, "batch_size"),
        ({"epochs": 0}, "epochs"),
        ({"epochs": 10**6}, "epochs"),
        ({"optimizer": "rmsprop"}, "optimizer"),
        ({"activation": "sigmoid"}, "activation"),
        ({"model": "transformer"}, "model"),
        ({"hidden_sizes": "abc"}, "hidden_sizes"),
        ({"hidden_sizes": "-5"}, "hidden_sizes"),
        ({"hidden_sizes": "100000,100000"}, "hidden_sizes"),
        ({"hidden_sizes": ""}, "hidden_sizes"),
        ({"hidden_sizes": "8,8,8,8,8"}, "hidden_sizes"),
        ({"dropout": 1.0}, "dropout"),
        ({"batch_norm": "maybe"}, "batch_norm"),
        ({"device": "tpu"}, "device"),
        ({"epochs": 2.5}, "epochs"),
        ({"nesterov": True, "optimizer": "adam"}, "nesterov"),
    ],
)
def test_bad_values_name_the_field(changes, field):
    with pytest.raises(ValueError, match=rf"^{field}:"):
        TrainConfig.from_dict(changes)


def test_range_is_in_the_message():
    with pytest.raises(ValueError, match=r"\[1, 8192\]"):
        TrainConfig.from_dict({"batch_size": 0})


def test_a_batch_larger_than_what_mnist_leaves_is_refused():
    with pytest.raises(ValueError, match=r"batch_size: 256 is larger than the training set \(100 images\)"):
        TrainConfig(train_size=100, batch_size=256).validate()
    with pytest.raises(ValueError, match=r"batch_size: 8192 is larger than the training set \(5000 images\)"):
        TrainConfig(val_size=0, train_size=5000, batch_size=8192).validate()
    TrainConfig(train_size=256, batch_size=256).validate()  # exactly one batch is fine


def test_loose_values_are_coerced():
    cfg = TrainConfig.from_dict({"epochs": "3", "lr": "0.01", "batch_norm": "false", "hidden_sizes": [64, 32]})
    assert (cfg.epochs, cfg.lr, cfg.batch_norm, cfg.hidden) == (3, 0.01, False, (64, 32))
    assert TrainConfig.from_dict({"epochs": 3.0}).epochs == 3  # a slider sends floats


def test_unknown_field_is_refused():
    with pytest.raises(ValueError, match="unknown hyperparameter"):
        TrainConfig.from_dict({"learning_rate": 0.1})


def test_round_trip_through_dict():
    cfg = TrainConfig(model="mlp", hidden_sizes="64,32", epochs=3)
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg


def _beyond(value, step):
    return value + step if isinstance(value, int) else value + step * max(abs(value), 0.01) * 0.5


def test_every_field_documents_the_range_it_enforces():
    """describe_range (in --help and every error) names exactly the values validation accepts."""
    for f in fields():
        m, text = f.metadata, describe_range(f)
        assert m["help"]
        TrainConfig.from_dict({f.name: f.default})  # the default itself is allowed
        if "choices" in m:
            assert text == "one of " + ", ".join(m["choices"])
            for choice in m["choices"]:
                assert getattr(TrainConfig.from_dict({f.name: choice}), f.name) == choice
            with pytest.raises(ValueError, match=f"^{f.name}:"):
                TrainConfig.from_dict({f.name: "none-of-these"})
        elif m.get("kind") == "int_list":
            assert text == f"1 to {m['max_len']} integers in [{m['min']}, {m['max']}], comma separated"
            TrainConfig.from_dict({f.name: ",".join([str(m["max"])] * m["max_len"])})
            for bad in (",".join(["8"] * (m["max_len"] + 1)), str(m["max"] + 1), str(m["min"] - 1)):
                with pytest.raises(ValueError, match=f"^{f.name}:"):
                    TrainConfig.from_dict({f.name: bad})
        elif "min" in m:
            assert text == f"[{m['min']}, {m['max']}]"
            for edge in (m["min"], m["max"]):
                assert getattr(TrainConfig.from_dict({f.name: edge}), f.name) == edge
            for bad in (_beyond(m["min"], -1), _beyond(m["max"], 1)):
                with pytest.raises(ValueError, match=f"^{f.name}:"):
                    TrainConfig.from_dict({f.name: bad})
        else:
            assert field_type(f) is bool and text == "true or false"


@pytest.mark.parametrize(
    "train_size, val_size",
    [(0, 5000), (0, 0), (2000, 500), (60000, 5000), (58000, 5000), (55000, 5000), (100, 20000)],
)
def test_train_images_is_what_the_split_trains_on(train_size, val_size):
    """TrainConfig.train_images counts exactly the images split_train_val hands to training."""
    from mnist_core.data import split_train_val

    cfg = TrainConfig(train_size=train_size, val_size=val_size)
    images = torch.zeros(60_000, 1, dtype=torch.uint8)
    train_x, *_ = split_train_val(images, images[:, 0], cfg.val_size, cfg.seed, cfg.train_size)
    assert cfg.train_images == len(train_x)


def test_every_field_has_a_known_group_and_a_form_sees_them_all_once():
    from mnist_core.config import GROUPS, field_groups

    groups = field_groups()
    assert list(groups) == list(GROUPS) and all(groups.values())
    assert sorted(sum(groups.values(), [])) == sorted(f.name for f in fields())


def test_the_basic_controls_are_the_most_used_five():
    from mnist_core.config import basic_fields

    assert set(basic_fields()) == {"model", "epochs", "lr", "batch_size", "optimizer"}


@pytest.mark.parametrize(
    "values, field, expected",
    [
        ({"optimizer": "sgd", "scheduler": "step"}, "momentum", True),
        ({"optimizer": "sgd"}, "momentum", False),  # one-cycle cycles the momentum itself
        ({"optimizer": "adamw"}, "momentum", False),
        ({"optimizer": "sgd"}, "nesterov", True),
        ({"optimizer": "adam"}, "nesterov", False),
        ({}, "beta1", True),  # adamw by default
        ({"optimizer": "adam"}, "beta2", True),
        ({"optimizer": "sgd"}, "beta1", False),
        ({"optimizer": "adadelta"}, "beta2", False),
        ({"model": "mlp"}, "hidden_sizes", True),
        ({}, "hidden_sizes", False),
        ({"model": "cnn_large"}, "hidden_sizes", False),
        ({"scheduler": "step"}, "step_size", True),
        ({"scheduler": "step"}, "gamma", True),
        ({"scheduler": "onecycle"}, "gamma", False),
        ({"model": "cnn", "optimizer": "sgd"}, "lr", True),
    ],
)
def test_applicability_is_read_from_the_field_metadata(values, field, expected):
    from mnist_core.config import applicable

    assert applicable(values, field) is expected
    assert applicable(TrainConfig(**values), field) is expected


def test_relevant_fields_hide_what_does_not_apply():
    from mnist_core.config import applicable, relevant_fields

    shown = relevant_fields({"model": "mlp", "optimizer": "sgd", "scheduler": "step"})
    assert {"hidden_sizes", "momentum", "nesterov", "step_size", "gamma"} <= set(shown)
    assert not {"beta1", "beta2"} & set(shown)
    shown = relevant_fields(TrainConfig())
    assert not {"hidden_sizes", "momentum", "nesterov", "step_size", "gamma"} & set(shown)
    assert len(shown) == len(fields()) - 5
    with pytest.raises(ValueError, match="unknown hyperparameter: bogus"):
        applicable({}, "bogus")


def test_batch_size_runs_over_powers_of_two():
    from mnist_core.config import pow2_values

    batch = next(f for f in fields() if f.name == "batch_size")
    assert batch.metadata["scale"] == "pow2"
    assert pow2_values(batch) == [2**k for k in range(14)]  # 1 .. 8192
