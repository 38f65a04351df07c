"""The decoder-only sharpening stage: the encoder (and so every latent the UNet learned) stays
as it was, the decoder learns, and an interrupted run resumes where its checkpoint stopped."""

from __future__ import annotations

import numpy as np
import torch
from decoder import DecoderPlan, ship, train_decoder
from scenes import random_scene

from diffeditor_app.engine.models.loading import TOY_MODEL_DIR


def test_only_the_decoder_learns_and_a_run_resumes(tmp_path):
    from diffusers import AutoencoderKL

    images = np.stack([random_scene("train", i).render().rgb for i in range(4)])
    plan = DecoderPlan(steps=2, batch=2, checkpoint_every=1)
    before = AutoencoderKL.from_pretrained(TOY_MODEL_DIR / "vae").state_dict()
    vae = train_decoder(TOY_MODEL_DIR, tmp_path / "work", plan, images)
    after = vae.state_dict()
    encoder = [k for k in before if k.startswith(("encoder.", "quant_conv."))]
    decoder = [k for k in before if k.startswith(("decoder.", "post_quant_conv."))]
    assert encoder and all(torch.equal(before[k], after[k]) for k in encoder)
    assert any(not torch.equal(before[k], after[k]) for k in decoder)

    longer = train_decoder(
        TOY_MODEL_DIR, tmp_path / "work", DecoderPlan(steps=3, batch=2, checkpoint_every=1), images
    )
    rows = (tmp_path / "work" / "decoder.loss.csv").read_text().splitlines()
    assert [row.split(",")[0] for row in rows[1:]] == ["1", "2", "3"]  # step 3 only was new
    ship(TOY_MODEL_DIR, longer, tmp_path / "sharp")
    shipped = AutoencoderKL.from_pretrained(tmp_path / "sharp" / "vae")
    assert shipped.config.scaling_factor == vae.config.scaling_factor
    assert (tmp_path / "sharp" / "unet").is_dir()
