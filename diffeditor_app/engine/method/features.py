"""UNet decoder features for the energies (ALGORITHM.md §6): forward hooks, early exit.

The same UNet that samples also gives the features (one copy in memory): hooks capture the
outputs of the configured `up_blocks`, and the forward pass stops right after the last of
them, so the remaining decoder and the output head are never run.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


class _EarlyExit(Exception):
    """Raised by the last feature hook to stop the UNet forward pass."""


class FeatureExtractor:
    """Captures `unet.up_blocks[b]` outputs for b in `blocks`, stopping after the last."""

    def __init__(self, unet, blocks: tuple[int, ...]) -> None:
        if not blocks:
            raise ValueError("at least one feature block is needed")
        count = len(unet.up_blocks)
        if any(not 0 <= b < count for b in blocks):
            raise ValueError(f"feature blocks {blocks} do not exist in a UNet with {count}")
        self.unet = unet
        self.blocks = tuple(sorted(blocks))

    def __call__(
        self, latent: torch.Tensor, timestep: int, text: torch.Tensor
    ) -> list[torch.Tensor]:
        """One early-exit UNet pass: a [B, C_b, h_b, w_b] tensor per feature block."""
        captured: dict[int, torch.Tensor] = {}
        last = self.blocks[-1]

        def hook(block: int):
            def capture(module, inputs, output):
                captured[block] = output
                if block == last:
                    raise _EarlyExit

            return capture

        handles = [self.unet.up_blocks[b].register_forward_hook(hook(b)) for b in self.blocks]
        try:
            self.unet(latent, timestep, encoder_hidden_states=text)
        except _EarlyExit:
            pass
        finally:
            for handle in handles:
                handle.remove()
        return [captured[b] for b in self.blocks]


def to_grid(
    features: list[torch.Tensor], shape: tuple[int, int], image: int = 0
) -> list[torch.Tensor]:
    """Nearest-upsample each level of one image of the batch to the feature grid and
    flatten: [C, rows * cols] each, in float32 so cosines and gradients keep precision."""
    return [
        F.interpolate(f[image : image + 1].float(), size=shape, mode="nearest")[0].flatten(1)
        for f in features
    ]
