"""FlexMLP: one patch embedder for every patch size.

The embedder is a residual MLP built for a base patch size b. FlexiViT-style, a model with another patch size ps
would resize the weights of the input-facing layers along their input axis. Every such resize is linear in the
weights, W_ps = W_b A_ps, so W_ps z = W_b (A_ps z): instead of resizing weights, each sample's patches are mapped
to the base width by the fixed matrix A_ps (3b, 3ps), and one base MLP runs over the whole batch.

The maps of every patch size up to `max_patch_size` sit in one table (a buffer, no parameters), so a batch
gathers its samples' maps by index: no grouping by patch size, no host synchronisation, and one graph for
`torch.compile` and `torch.export` whatever the patch sizes.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .configuration_slip import SlipSensorConfig
from .layers import TokenPacking

# values | mask | time
NUM_PATCH_FEATURES = 3


def linear_resize_matrix(old_size: int, new_size: int) -> torch.Tensor:
    """The (new_size, old_size) matrix B of 1-D linear interpolation with half-pixel centres: resize(x) = B x.

    Built by resizing the basis vectors, like FlexiViT's `get_resize_mat` (align_corners=False).
    """
    basis = torch.eye(old_size, dtype=torch.float64)[:, None, :]
    return F.interpolate(basis, size=new_size, mode="linear", align_corners=False)[:, 0, :].T


def pinv_input_map(base_patch_size: int, patch_size: int) -> torch.Tensor:
    """A_ps (3b, 3ps) of the FlexiViT pseudo-inverse resize, applied to values, mask and time separately.

    FlexiViT resizes a kernel w (b,) to w_ps = pinv(B^T) w with B = linear_resize_matrix(b, ps), so that
    <B x, w_ps> = <x, w> for every x of size b (exact when ps >= b, least squares otherwise). For a weight matrix
    W_b (out, b) this is W_ps = W_b pinv(B), hence the per-third input map pinv(B) (b, ps).
    """
    third = torch.linalg.pinv(linear_resize_matrix(base_patch_size, patch_size))
    return torch.block_diag(*[third] * NUM_PATCH_FEATURES)


def linear_joint_input_map(base_patch_size: int, patch_size: int) -> torch.Tensor:
    """A_ps (3b, 3ps) equal to linearly interpolating the weight's whole 3b input axis to 3ps (the reference's
    `F.interpolate(weight, size=3 * ps, mode="linear")`): interpolate(W_b) = W_b M with M the interpolation of the
    identity's rows."""
    return linear_resize_matrix(NUM_PATCH_FEATURES * base_patch_size, NUM_PATCH_FEATURES * patch_size).T


INPUT_MAPS = {"pinv": pinv_input_map, "linear_joint": linear_joint_input_map}


class SlipFlexMLP(nn.Module):
    """Embeds (B, C, P, S) patches of mixed patch sizes into (B, C, P, hidden_size) tokens."""

    def __init__(self, config: SlipSensorConfig):
        super().__init__()
        self.base_patch_size = config.base_patch_size
        self.patch_resize_mode = config.patch_resize_mode
        in_features = NUM_PATCH_FEATURES * config.base_patch_size
        self.hidden_layer = nn.Linear(in_features, 4 * config.hidden_size)
        self.activation = nn.SiLU()
        self.output_layer = nn.Linear(4 * config.hidden_size, config.hidden_size)
        self.dropout = nn.Dropout(config.embedding_dropout)
        self.residual_layer = nn.Linear(in_features, config.hidden_size)
        self.max_patch_size = config.max_patch_size
        self._input_maps: dict[tuple[int, torch.device, torch.dtype], torch.Tensor] = {}
        self.register_buffer("input_map_table", self.build_input_map_table(), persistent=False)

    def input_map(self, patch_size: int, device: torch.device | str, dtype: torch.dtype) -> torch.Tensor:
        """The cached map A_ps (3b, 3ps) that takes a [values | mask | time] patch of size ps to the base width."""
        if patch_size < 1:
            raise ValueError(f"patch_size must be >= 1, got {patch_size}.")
        key = (int(patch_size), torch.device(device), dtype)
        if key not in self._input_maps:
            input_map = INPUT_MAPS[self.patch_resize_mode](self.base_patch_size, int(patch_size))
            self._input_maps[key] = input_map.to(device=device, dtype=dtype)
        return self._input_maps[key]

    def build_input_map_table(self) -> torch.Tensor:
        """(max_patch_size + 1, 3b, 3, max_patch_size + 1): entry [ps, :, k, :ps] is the part of A_ps that reads
        feature k (values, mask, time) of a patch of size ps; zero elsewhere (and for ps = 0). Kept in float64
        (a forward casts only the maps it gathers), so the maps are exact in every compute dtype. Built on the
        CPU even while a model is built on the meta device. The last axis has one spare column, so the batch's
        patch axis (at most max_patch_size) always slices it strictly: `torch.export` then needs no separate
        graph for a patch axis of exactly max_patch_size."""
        base = NUM_PATCH_FEATURES * self.base_patch_size
        with torch.device("cpu"):
            table = torch.zeros(
                self.max_patch_size + 1,
                base,
                NUM_PATCH_FEATURES,
                self.max_patch_size + 1,
                dtype=torch.float64,
            )
            for size in range(1, self.max_patch_size + 1):
                input_map = INPUT_MAPS[self.patch_resize_mode](self.base_patch_size, size)
                table[size, :, :, :size] = input_map.view(base, NUM_PATCH_FEATURES, size)
        return table

    def base_mlp(self, patches: torch.Tensor) -> torch.Tensor:
        """The residual MLP on base-width inputs (..., 3b) -> (..., hidden_size)."""
        hidden = self.output_layer(self.activation(self.hidden_layer(patches)))
        return self.dropout(hidden) + self.residual_layer(patches)

    def forward(
        self,
        sensor_values: torch.Tensor,
        sensor_mask: torch.Tensor,
        sensor_time: torch.Tensor,
        patch_size: torch.Tensor,
        packing: TokenPacking | None = None,
    ) -> torch.Tensor:
        """Map every sample's [values | mask | time] patches to the base width with its own A_ps, then run one
        base MLP over the batch: (B, C, P, hidden_size), or (1, N, hidden_size) for the packed valid tokens.

        The patch axis S of the batch is the largest patch size; a sample's steps beyond its own size carry
        nothing (the table's columns there are zero). Unobserved steps enter as value 0 (so a NaN left under a
        False mask cannot leak in) and mask 0. Inputs are computed in the embedder's dtype.
        """
        dtype = self.hidden_layer.weight.dtype
        width = sensor_values.shape[-1]
        features = torch.cat(
            (
                sensor_values.to(dtype).masked_fill(~sensor_mask, 0.0),
                sensor_mask.to(dtype),
                sensor_time.to(dtype),
            ),
            dim=-1,
        )
        maps = self.input_map_table[patch_size][..., :width].flatten(-2).to(dtype)  # (B, 3b, 3S)
        mapped = torch.einsum("bcpf,bof->bcpo", features, maps)
        if packing is not None:
            mapped = packing.unpad(mapped.flatten(1, 2))[None]
        return self.base_mlp(mapped)
