"""Per-sample random rotation, shift and zoom, done for a whole batch at once on its device."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def random_affine(
    images: torch.Tensor, rotation: float, shift: float, scale: float, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Warp each image of (N, 1, H, W) by its own random affine map: one affine_grid + grid_sample.

    rotation is in degrees (uniform in [-rotation, rotation]), shift a fraction of the image size,
    scale a zoom range (uniform in [1 - scale, 1 + scale]). Zeros (background) fill the border.
    """
    if not (rotation or shift or scale):
        return images
    n = images.shape[0]
    device, dtype = images.device, images.dtype

    def uniform(limit: float) -> torch.Tensor:
        # Draw on the CPU generator so results are identical for a seed whatever the device.
        u = torch.rand(n, generator=generator, dtype=torch.float32) * 2 - 1
        return (u * limit).to(device=device, dtype=dtype)

    angle = uniform(math.radians(rotation))
    zoom = 1 + uniform(scale)
    # affine_grid maps output to input coordinates in [-1, 1]: a shift of s*size is 2*s there.
    tx, ty = uniform(2 * shift), uniform(2 * shift)
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    theta = torch.stack([torch.stack([cos, -sin, tx], 1), torch.stack([sin, cos, ty], 1)], 1)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def random_thicken(images: torch.Tensor, share: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Widen the strokes of a random `share` of (N, 1, H, W) images, half of them by a pixel each side and
    half by two (3x3 and 5x5 max filters), as a pen wide for the digit draws them: a digit drawn small on
    the canvas comes with strokes a third of its height wide and its loops filled, and a model that learns
    "not a digit" should still read it."""
    if not share:
        return images
    u = torch.rand(images.shape[0], generator=generator).to(images.device)[:, None, None, None]
    wide = F.max_pool2d(images, 3, stride=1, padding=1)
    wider = F.max_pool2d(images, 5, stride=1, padding=2)
    return torch.where(u < share / 2, wider, torch.where(u < share, wide, images))
