"""FlexMLP: exact linear resize maps, base-size identity, mixed patch sizes in one batch."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from modeling_slip.configuration_slip import SlipSensorConfig
from modeling_slip.flex_mlp import SlipFlexMLP

BASE = 8


def make_embedding(mode: str) -> SlipFlexMLP:
    config = SlipSensorConfig(
        hidden_size=16, num_attention_heads=2, base_patch_size=BASE, max_patch_size=32, patch_resize_mode=mode
    )
    return SlipFlexMLP(config).eval().double()


def random_patches(batch: int, patch_size: int, channels: int = 2, patches: int = 3):
    values = torch.randn(batch, channels, patches, patch_size, dtype=torch.float64)
    mask = torch.rand(batch, channels, patches, patch_size) > 0.2
    time = torch.rand(batch, channels, patches, patch_size, dtype=torch.float64)
    return values.masked_fill(~mask, 0.0), mask, time


def features(values, mask, time) -> torch.Tensor:
    return torch.cat((values, mask.double(), time), dim=-1)


def mlp_with_weights(embedding: SlipFlexMLP, z, hidden_weight, residual_weight) -> torch.Tensor:
    """The FlexMLP written out with explicitly given input-layer weights."""
    hidden = F.linear(z, hidden_weight, embedding.hidden_layer.bias)
    out = embedding.output_layer(F.silu(hidden))
    return out + F.linear(z, residual_weight, embedding.residual_layer.bias)


def half_pixel_resize_matrix(old: int, new: int) -> np.ndarray:
    """(new, old) linear interpolation matrix with half-pixel centres, built with numpy only."""
    source = (np.arange(new) + 0.5) * old / new - 0.5
    return np.stack([np.interp(source, np.arange(old), basis) for basis in np.eye(old)], axis=1)


def flexivit_pinv_resize(weight: torch.Tensor, new: int) -> torch.Tensor:
    """FlexiViT's resize of each kernel row w (per third): w_new = pinv(B^T) w."""
    resize = half_pixel_resize_matrix(BASE, new)
    thirds = weight.detach().numpy().reshape(weight.shape[0], 3, BASE)
    resized = np.einsum("nb,ocb->ocn", np.linalg.pinv(resize.T), thirds)
    return torch.from_numpy(resized.reshape(weight.shape[0], 3 * new))


def interpolate_joint_resize(weight: torch.Tensor, new: int) -> torch.Tensor:
    return F.interpolate(weight.detach()[:, None, :], size=3 * new, mode="linear")[:, 0, :]


@pytest.mark.parametrize("mode", ["pinv", "linear_joint"])
def test_base_patch_size_is_the_plain_mlp(mode):
    embedding = make_embedding(mode)
    values, mask, time = random_patches(3, BASE)
    out = embedding(values, mask, time, torch.full((3,), BASE))
    z = features(values, mask, time)
    expected = mlp_with_weights(embedding, z, embedding.hidden_layer.weight, embedding.residual_layer.weight)
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-12)
    torch.testing.assert_close(
        embedding.input_map(BASE, "cpu", torch.float64), torch.eye(3 * BASE, dtype=torch.float64)
    )


@pytest.mark.parametrize(
    "mode, resize", [("pinv", flexivit_pinv_resize), ("linear_joint", interpolate_joint_resize)]
)
@pytest.mark.parametrize("patch_size", [3, 5, 12, 16, 32])
def test_input_map_equals_resized_weight_mlp(mode, resize, patch_size):
    embedding = make_embedding(mode)
    values, mask, time = random_patches(2, patch_size)
    out = embedding(values, mask, time, torch.full((2,), patch_size))
    z = features(values, mask, time)
    hidden_weight = resize(embedding.hidden_layer.weight, patch_size)
    residual_weight = resize(embedding.residual_layer.weight, patch_size)
    torch.testing.assert_close(
        out, mlp_with_weights(embedding, z, hidden_weight, residual_weight), rtol=1e-9, atol=1e-9
    )


@pytest.mark.parametrize("patch_size", [8, 12, 16, 32])
def test_pinv_map_preserves_tokens_of_upsampled_patches(patch_size):
    """FlexiViT's goal: <resize(x), w_resized> = <x, w> when the patch is upsampled from the base size."""
    embedding = make_embedding("pinv")
    resize = torch.from_numpy(half_pixel_resize_matrix(BASE, patch_size))
    base_patches = torch.randn(5, 3, BASE, dtype=torch.float64)
    upsampled = (base_patches @ resize.T).flatten(1)
    resized_weight = embedding.hidden_layer.weight @ embedding.input_map(patch_size, "cpu", torch.float64)
    torch.testing.assert_close(
        upsampled @ resized_weight.T,
        base_patches.flatten(1) @ embedding.hidden_layer.weight.T,
        rtol=1e-9,
        atol=1e-9,
    )


@pytest.mark.parametrize("mode", ["pinv", "linear_joint"])
def test_mixed_patch_sizes_match_samples_one_by_one(mode):
    embedding = make_embedding(mode)
    sizes = [5, BASE, 32, 5]
    samples = [random_patches(1, size) for size in sizes]
    widest = max(sizes)
    padded = [
        [F.pad(tensor, (0, widest - tensor.shape[-1])) for tensor in sample] for sample in samples
    ]  # zeros / False beyond each sample's own size
    batch = [torch.cat(parts) for parts in zip(*padded)]
    out = embedding(*batch, torch.tensor(sizes))
    for index, (sample, size) in enumerate(zip(samples, sizes)):
        alone = embedding(*sample, torch.tensor([size]))
        torch.testing.assert_close(out[index : index + 1], alone, rtol=1e-12, atol=1e-12)


def test_input_maps_are_cached_per_size_device_and_dtype():
    embedding = make_embedding("pinv")
    first = embedding.input_map(16, "cpu", torch.float32)
    assert embedding.input_map(16, torch.device("cpu"), torch.float32) is first
    assert first.shape == (3 * BASE, 3 * 16)
    assert embedding.input_map(16, "cpu", torch.float64) is not first
    with pytest.raises(ValueError, match="patch_size must be >= 1"):
        embedding.input_map(0, "cpu", torch.float32)


def test_unobserved_values_do_not_leak():
    embedding = make_embedding("pinv")
    values, mask, time = random_patches(2, 12)
    out = embedding(values, mask, time, torch.full((2,), 12))
    poisoned = values.masked_fill(~mask, float("nan"))
    torch.testing.assert_close(embedding(poisoned, mask, time, torch.full((2,), 12)), out)
