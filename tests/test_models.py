"""Every model with every activation, with and without BatchNorm: the right layers, a finite training
step, and a checkpoint that loads back into the same network."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from mnist_core.checkpoint import load_model, save_checkpoint
from mnist_core.config import ACTIVATIONS, MODELS, TrainConfig
from mnist_core.embedding import hidden_features
from mnist_core.layers import first_layer_filters, forward_stages
from mnist_core.models import build_model, digit_logits, refusal_margin

# Written out here, not read from models.ACTIVATIONS, so that a wrong entry there fails.
ACTIVATION_CLASSES = {"relu": nn.ReLU, "leaky_relu": nn.LeakyReLU, "mish": nn.Mish, "gelu": nn.GELU}
# Activations per network (mlp: hidden_sizes "32,16"; the ensemble: its two members').
HIDDEN_LAYERS = {"mlp": 2, "cnn": 3, "cnn_large": 5, "cnn_deep": 6, "cnn_ensemble": 11}
NORMS = (nn.BatchNorm1d, nn.BatchNorm2d)


def test_the_tables_here_cover_every_choice():
    assert set(ACTIVATION_CLASSES) == set(ACTIVATIONS) and set(HIDDEN_LAYERS) == set(MODELS)


@pytest.mark.parametrize("batch_norm", [True, False])
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("model", MODELS)
def test_every_model_activation_and_batch_norm(tmp_path, model, activation, batch_norm):
    cfg = TrainConfig(model=model, activation=activation, batch_norm=batch_norm, hidden_sizes="32,16").validate()
    torch.manual_seed(0)
    net = build_model(cfg)
    layers = list(net.modules())
    activations = [m for m in layers if type(m) in ACTIVATION_CLASSES.values()]
    assert len(activations) == HIDDEN_LAYERS[model]
    assert all(type(m) is ACTIVATION_CLASSES[activation] for m in activations)
    norms = [m for m in layers if isinstance(m, NORMS)]
    assert len(norms) == (HIDDEN_LAYERS[model] if batch_norm else 0)
    if not batch_norm:  # without a norm to absorb it, every layer keeps its bias
        assert all(m.bias is not None for m in layers if isinstance(m, (nn.Conv2d, nn.Linear)))

    x, y = torch.rand(8, 1, 28, 28), torch.arange(8) % 10
    loss = nn.functional.cross_entropy(net(x), y)
    loss.backward()
    assert torch.isfinite(loss) and all(torch.isfinite(p.grad).all() for p in net.parameters())

    net.eval()
    path = save_checkpoint(tmp_path / "m.pt", net, cfg, {"steps": [], "epochs": []}, {})
    loaded = load_model(path).model.eval()
    with torch.no_grad():
        assert torch.equal(loaded(x), net(x))


@pytest.mark.parametrize("model", ["cnn", "cnn_large", "cnn_deep"])
def test_the_gradient_into_the_last_conv_block_keeps_its_channels_last_layout(model):
    """The flatten hands the gradient back channels-last, as the activation before it saved its
    output: on two layouts the ReLU's backward took 30x longer. The gradients themselves are those
    of a plain nn.Flatten."""
    torch.manual_seed(0)
    net = build_model(TrainConfig(model=model))
    flatten = next(i for i, m in enumerate(net) if isinstance(m, nn.Flatten))
    layouts = []
    net[flatten - 1].register_full_backward_hook(
        lambda module, grad_in, grad_out: layouts.append(grad_out[0].is_contiguous(memory_format=torch.channels_last))
    )
    x, y = torch.rand(8, 1, 28, 28), torch.randint(0, 10, (8,))
    nn.functional.cross_entropy(net(x), y).backward()
    assert layouts == [True]

    plain = build_model(TrainConfig(model=model))
    plain.load_state_dict(net.state_dict())
    plain[flatten] = nn.Flatten()
    nn.functional.cross_entropy(plain(x), y).backward()
    for (name, a), b in zip(net.named_parameters(), plain.parameters(), strict=True):
        torch.testing.assert_close(a.grad, b.grad, msg=name)


def test_an_ensemble_reads_the_mean_of_its_members_refuses_by_the_first_and_shows_its_layers():
    torch.manual_seed(0)
    net = build_model(TrainConfig(model="cnn_ensemble")).eval()
    large, deep = net.members
    x = torch.rand(4, 1, 28, 28)
    with torch.no_grad():
        out = net(x)
        mean = (large(x).log_softmax(-1) + deep(x).log_softmax(-1)) / 2
        torch.testing.assert_close(digit_logits(out), digit_logits(mean))  # the digits: mean log-probabilities
        torch.testing.assert_close(refusal_margin(out), refusal_margin(large(x)))  # "not a digit": cnn_large's
        walked, alone = forward_stages(net, x), forward_stages(large, x)
    torch.testing.assert_close(walked.logits, out)
    assert [name for name, _ in walked.stages] == [name for name, _ in alone.stages]  # cnn_large's, then "output"
    torch.testing.assert_close(walked.stages[-1][1], out)
    torch.testing.assert_close(walked.features, alone.features)  # the space its nearest digits are found in
    features, digits = hidden_features(net, x, predict=False)  # the training digits' index runs cnn_large alone
    np.testing.assert_allclose(features, alone.features.numpy(), rtol=1e-5, atol=1e-6)
    assert digits.size == 0
    assert torch.equal(first_layer_filters(net), first_layer_filters(large))
