"""Shapes and building blocks of the networks in skeeg2bold.nn."""

import numpy as np
import pytest
import torch

from skeeg2bold.nn import (
    CompactNet,
    Decoder,
    EEG2BoldNet,
    Encoder,
    InterpretableFeatureExtractor,
    MHAConvBlock,
    PostDecoder,
)

SMALL = dict(n_chans=8, n_times=100, n_outputs=3, sfreq=50.0, n_branches=4)
SMALL_DEEP = dict(SMALL, embed_dim=8, n_heads=2, n_blocks=1, kernel_size=3)


@pytest.mark.parametrize(
    "module, in_shape, out_shape",
    [
        (InterpretableFeatureExtractor(8, 50.0, n_branches=4), (2, 8, 100), (2, 4, 100)),
        (Encoder(4, 100, embed_dim=8, stride=10, n_blocks=2, n_heads=2), (2, 4, 100), (2, 8, 10)),
        (MHAConvBlock(8, 2, 3), (2, 8, 100), (2, 8, 100)),
        (PostDecoder(8, hidden=5), (2, 8, 100), (2, 8, 100)),
    ],
)
def test_submodule_shapes(module, in_shape, out_shape):
    assert module.eval()(torch.randn(*in_shape)).shape == out_shape


def test_decoder_resamples_to_output_length():
    dec = Decoder(embed_dim=8, n_outputs=3, n_out_times=7, n_blocks=1, n_heads=2).eval()
    assert dec(torch.randn(2, 8, 20)).shape == (2, 3, 7)


@pytest.mark.parametrize("net_cls, kwargs", [(EEG2BoldNet, SMALL_DEEP), (CompactNet, SMALL)])
def test_network_output_shapes(net_cls, kwargs):
    net = net_cls(**kwargs).eval()
    assert net(torch.randn(5, 8, 100)).shape == (5, 3)
    # Routed fit parameters (e.g. groups) must not break forward.
    assert net(torch.randn(5, 8, 100), groups=np.zeros(5)).shape == (5, 3)


def test_paper_defaults_fit_the_paper_data():
    net = EEG2BoldNet().eval()
    assert (net.n_chans, net.n_times, net.n_outputs) == (30, 1000, 15)
    # One branch per channel and classical band, from fixed (cached) band-pass filters.
    assert net.feature_extractor.n_branches == 150
    assert net.feature_extractor.band_filters.shape[0] == 5
    assert net(torch.randn(2, 30, 1000)).shape == (2, 15)
    # The paper's front end of 15 mixed branches, filters learned, no linear path.
    paper = EEG2BoldNet(
        n_branches=15, init_spatial="random", init_bands=True, envelope_sfreq=None, skip_lags=0
    ).eval()
    assert paper.feature_extractor.band_filters is None and paper.skip is None
    assert paper.feature_extractor.temporal.weight.requires_grad
    assert paper(torch.randn(2, 30, 1000)).shape == (2, 15)


def test_bold_encoder_runs_in_training_only():
    net = EEG2BoldNet(**SMALL_DEEP)
    x, bold = torch.randn(6, 8, 100), torch.randn(6, 3)
    pred, eeg_emb, bold_emb = net.train()(x, bold=bold)
    assert pred.shape == (6, 3)
    assert eeg_emb.shape == bold_emb.shape == (6, 8)
    # Evaluation mode ignores bold entirely.
    assert net.eval()(x, bold=bold).shape == (6, 3)
    assert EEG2BoldNet(**SMALL_DEEP, bold_encoder=False).bold_encoder is None


@pytest.mark.parametrize("readout", ["last", "mean"])
def test_readout(readout):
    torch.manual_seed(0)
    net = EEG2BoldNet(**SMALL_DEEP, readout=readout, skip_lags=0).eval()
    x = torch.randn(3, 8, 100)
    decoded = net.post_decoder(net.decoder(net.eeg_encoder(net.feature_extractor(x))))
    expected = decoded[..., -1] if readout == "last" else decoded.mean(-1)
    torch.testing.assert_close(net(x), expected)


def test_feature_extractor_is_a_smoothed_envelope():
    fe = InterpretableFeatureExtractor(2, 100.0, n_branches=1, filter_length=0.05, smoothing=0.3)
    with torch.no_grad():
        fe.spatial.weight.zero_()
        fe.spatial.weight[0, 1, 0] = 1.0  # listen to channel 1 only
        fe.temporal.weight.zero_()
        fe.temporal.weight[0, 0, fe.temporal.weight.shape[-1] // 2] = 1.0  # identity
    t = torch.arange(400) / 100.0
    amp = 1.0 + (t > 2.0).float()
    x = torch.stack([torch.randn(400), amp * torch.sin(2 * np.pi * 10 * t)])[None]
    with torch.no_grad():
        env = fe(x)[0, 0]
    # Mean |sin| is 2/pi: the smoothed envelope follows the amplitude step.
    assert env[50:150].mean() == pytest.approx(2 / np.pi, rel=0.05)
    assert env[250:350].mean() == pytest.approx(4 / np.pi, rel=0.05)
    assert fe.smoothing.sum().item() == pytest.approx(1.0)


@pytest.mark.parametrize("n_times, n_taps", [(1000, 51), (100, 101), (37, 1), (8, 21)])
def test_fft_depthwise_conv_matches_conv1d(n_times, n_taps):
    from torch.nn import functional as F

    from skeeg2bold.nn._feature_extractor import depthwise_same_conv

    gen = torch.Generator().manual_seed(n_taps)
    x = torch.randn(3, 5, n_times, generator=gen, dtype=torch.float64, requires_grad=True)
    kernel = torch.randn(5, 1, n_taps, generator=gen, dtype=torch.float64, requires_grad=True)
    direct = F.conv1d(x, kernel, padding=n_taps // 2, groups=5)
    fast = depthwise_same_conv(x, kernel)
    torch.testing.assert_close(fast, direct)
    # Gradients too: training goes through this path.
    weights = torch.randn(direct.shape, generator=gen, dtype=torch.float64)
    grads_direct = torch.autograd.grad((direct * weights).sum(), (x, kernel))
    grads_fast = torch.autograd.grad((fast * weights).sum(), (x, kernel))
    for a, b in zip(grads_fast, grads_direct):
        torch.testing.assert_close(a, b)


def test_smoothing_fixed_or_learnable():
    fixed = InterpretableFeatureExtractor(4, 50.0, n_branches=3)
    learn = InterpretableFeatureExtractor(4, 50.0, n_branches=3, learn_smoothing=True)
    assert "smoothing" in dict(fixed.named_buffers())
    assert "smoothing" not in dict(fixed.named_parameters())
    assert "smoothing" in dict(learn.named_parameters())
    torch.testing.assert_close(fixed.smoothing, learn.smoothing.detach())


def test_sizes_are_constructor_arguments():
    net = EEG2BoldNet(
        **dict(SMALL_DEEP, n_blocks=3),
        n_decoder_blocks=2,
        post_hidden=7,
        token_period=0.1,
        output_period=0.5,
    )
    assert len(net.eeg_encoder.blocks) == 3 and len(net.decoder.blocks) == 2
    assert net.eeg_encoder.n_tokens == 100 // 5
    assert net.decoder.n_out_times == 4
    assert net.post_decoder.expand.out_channels == 7


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(embed_dim=6, n_heads=4), "divisible"),
        (dict(readout="first"), "readout"),
        (dict(token_period=10.0), "stride"),
        (dict(n_chans=0), "n_chans"),
        (dict(sfreq=-1.0), "sfreq"),
    ],
)
def test_bad_sizes_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        EEG2BoldNet(**{**SMALL_DEEP, **kwargs})


def test_compact_net_rejects_too_many_lags():
    with pytest.raises(ValueError, match="n_lags"):
        CompactNet(**SMALL, n_lags=101)
    # 2 s at 50 Hz -> 20 envelope samples at 10 Hz.
    CompactNet(**SMALL, n_lags=20)
    with pytest.raises(ValueError, match="n_lags must be between 1 and the 20 envelope"):
        CompactNet(**SMALL, n_lags=21)


def test_eeg2bold_tokens_do_not_depend_on_the_envelope_rate():
    full = EEG2BoldNet(**SMALL_DEEP)
    fast = EEG2BoldNet(**SMALL_DEEP, envelope_sfreq=10.0)
    assert fast.feature_extractor.decimation == 5
    assert fast.eeg_encoder.n_tokens == full.eeg_encoder.n_tokens
    assert fast(torch.randn(2, 8, 100)).shape == (2, 3)


def test_decimated_envelope_follows_the_full_rate_one():
    sfreq, n_times = 100.0, 1003
    t = torch.arange(n_times) / sfreq
    amplitude = 1.5 + torch.sin(2 * torch.pi * 0.3 * t)
    x = (amplitude * torch.sin(2 * torch.pi * 10 * t)).expand(1, 2, n_times)
    kwargs = dict(n_branches=1, smoothing=1.0, filter_length=0.5)
    full = InterpretableFeatureExtractor(2, sfreq, **kwargs)
    fast = InterpretableFeatureExtractor(2, sfreq, envelope_sfreq=10.0, **kwargs)
    fast.spatial.load_state_dict(full.spatial.state_dict())  # same filters
    fast.temporal.load_state_dict(full.temporal.state_dict())
    assert fast.decimation == 10 and fast.smoothing.shape[-1] == 11
    out_full, out_fast = full(x)[0, 0], fast(x)[0, 0]
    assert out_fast.shape == (n_times // 10,)
    # Block centres of the decimated output (the first 3 samples are dropped).
    centres = 3 + 10 * torch.arange(n_times // 10) + 4.5
    reference = np.interp(centres.numpy(), np.arange(n_times), out_full.detach().numpy())
    inner = slice(10, -10)  # away from the zero-padded edges
    r = np.corrcoef(reference[inner], out_fast.detach().numpy()[inner])[0, 1]
    assert r > 0.995
    np.testing.assert_allclose(out_fast.detach().numpy()[inner], reference[inner], rtol=0.05)


def test_compact_defaults_start_from_the_channel_band_envelopes():
    # One branch per channel and classical band, starting as that channel's
    # band envelope (see CompactNet's docstring); so does the paper network.
    net = CompactNet()
    fe = net.feature_extractor
    assert fe.n_branches == 30 * 5 and net.readout.in_features == 150 * 10
    np.testing.assert_array_equal(
        fe.spatial.weight[:, :, 0].detach().numpy(), np.tile(np.eye(30), (5, 1))
    )
    assert net.drop.p == 0.5 and fe.decimation == 10
    # Below 90 Hz sampling, gamma is left out rather than aliased.
    assert CompactNet(n_chans=8, n_times=200, sfreq=50.0).feature_extractor.n_branches == 32
    assert EEG2BoldNet().feature_extractor.n_branches == 150


def test_channel_band_initialisation_gives_the_classical_envelopes():
    from scipy.signal import detrend, firwin
    from torch.nn import functional as F

    from skeeg2bold.features import DEFAULT_BANDS

    n_chans, sfreq = 4, 100.0
    fe = InterpretableFeatureExtractor(
        n_chans,
        sfreq,
        n_branches=n_chans * 5,
        filter_length=0.5,
        init_bands="canonical",
        init_spatial="channels",
    )
    x = torch.randn(2, n_chans, 400)
    taps = fe.temporal.weight.shape[-1]
    for k, (low, high) in enumerate(DEFAULT_BANDS.values()):
        kernel = torch.tensor(
            firwin(taps, [low, high], fs=sfreq, pass_zero=False), dtype=torch.float32
        )
        for c in range(n_chans):
            branch = k * n_chans + c  # one block of channels per band
            assert fe.spatial.weight[branch, :, 0].tolist() == [
                float(i == c) for i in range(n_chans)
            ]
            # Of the window with its line removed (as scipy's detrend does).
            detrended = torch.as_tensor(detrend(x[:, c : c + 1].numpy(), axis=-1))
            expected = F.conv1d(detrended, kernel.view(1, 1, -1), padding=taps // 2)
            torch.testing.assert_close(
                fe.filtered(x)[:, branch], expected[:, 0], atol=1e-4, rtol=1e-4
            )
    # n_branches=None: one branch per channel and band, in every network.
    assert (
        InterpretableFeatureExtractor(
            n_chans, sfreq, n_branches=None, init_bands="canonical", init_spatial="channels"
        ).n_branches
        == n_chans * 5
    )
    for net in (
        CompactNet(
            **{**SMALL, "n_branches": None}, init_bands=[(4, 8), (8, 13)], init_spatial="channels"
        ),
        EEG2BoldNet(
            **{**SMALL_DEEP, "n_branches": None},
            init_bands=[(4, 8), (8, 13)],
            init_spatial="channels",
        ),
    ):
        assert net(torch.randn(2, 8, 100)).shape == (2, 3)
        assert net.feature_extractor.n_branches == 16
    # Explicit edges, dealt out in turn over randomly initialised branches.
    fe = InterpretableFeatureExtractor(n_chans, sfreq, n_branches=3, init_bands=[(8, 13)])
    assert torch.equal(fe.temporal.weight[0], fe.temporal.weight[2])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(init_bands="alpha"), "init_bands must be"),
        (dict(init_bands=[(8, 13, 20)]), "each band of init_bands must be a pair"),
        (dict(init_bands=[(13, 8)]), "0 < l_freq < h_freq < sfreq/2"),
        (dict(init_bands=[(30, 60)], sfreq=50.0), "sfreq/2 = 25 Hz"),
        # cut at the top filter edge without a word before: now refused
        (dict(init_bands=[(8, 40)], sfreq=50.0), "sfreq/2 = 25 Hz"),
        (dict(init_spatial="identity"), "init_spatial"),
        (dict(n_branches=None), "n_branches=None .* needs"),
        (dict(n_branches=0), "n_branches must be"),
        (dict(n_branches=2.5), "n_branches must be"),
    ],
)
def test_bad_initialisation_is_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        InterpretableFeatureExtractor(4, **{"sfreq": 100.0, **kwargs})


def test_compact_and_eeg2bold_share_one_front_end_definition():
    import inspect

    from skeeg2bold.nn import CompactNet, EEG2BoldNet
    from skeeg2bold.nn._feature_extractor import FRONT_END_DEFAULTS

    for cls in (CompactNet, EEG2BoldNet):
        params = inspect.signature(cls).parameters
        assert {k: params[k].default for k in FRONT_END_DEFAULTS} == FRONT_END_DEFAULTS, cls
    args = dict(n_branches=6, init_bands=[(8, 13), (13, 30)], init_spatial="channels")
    torch.manual_seed(0)
    a = CompactNet(3, 200, 2, 100.0, **args).feature_extractor
    torch.manual_seed(0)
    b = EEG2BoldNet(3, 200, 2, 100.0, **args).feature_extractor
    assert a.n_branches == b.n_branches == 6
    for (name, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items()):
        assert torch.equal(x, y), name
