"""The step functions against their formulas (ALGORITHM.md §4, §3.2)."""

from __future__ import annotations

import math

import torch

from diffeditor_app.engine.method.sampler import eta_step, regional_sde_step, renoise, sigma


def test_renoise_is_the_ddim_inversion_formula():
    z, eps = torch.tensor([0.3, -1.2]), torch.tensor([0.5, 0.1])
    a_from, a_to = 0.9, 0.6
    x0 = (z - math.sqrt(1 - 0.9) * eps) / math.sqrt(0.9)
    expected = math.sqrt(0.6) * x0 + math.sqrt(1 - 0.6) * eps
    torch.testing.assert_close(renoise(z, eps, a_from, a_to), expected)
    # by hand, first element: x0 = (0.3 - 0.316228 * 0.5) / 0.948683 = 0.149561,
    # z = 0.774597 * 0.149561 + 0.632456 * 0.5
    assert abs(renoise(z, eps, a_from, a_to)[0].item() - 0.4320779) < 1e-5


def test_renoise_there_and_back_is_the_identity():
    z, eps = torch.randn(1, 4, 8, 8), torch.randn(1, 4, 8, 8)
    back = renoise(renoise(z, eps, 0.95, 0.3), eps, 0.3, 0.95)
    torch.testing.assert_close(back, z, rtol=1e-5, atol=1e-5)


def test_sigma_matches_ddim_eq16():
    a_t, a_prev = 0.5, 0.7
    assert sigma(0.0, a_t, a_prev) == 0.0
    expected = 0.4 * math.sqrt((1 - 0.7) / (1 - 0.5)) * math.sqrt(1 - 0.5 / 0.7)
    assert math.isclose(sigma(0.4, a_t, a_prev), expected)


def test_eta_zero_step_is_plain_ddim():
    z, eps = torch.randn(1, 4, 6, 6), torch.randn(1, 4, 6, 6)
    step = eta_step(z, eps, eps, 0.4, 0.8, 0.0, None)
    torch.testing.assert_close(step, renoise(z, eps, 0.4, 0.8))


def test_guided_eps_sets_x0_and_unguided_eps_the_direction():
    z, eps, eps_g = torch.randn(3), torch.randn(3), torch.randn(3)
    a_t, a_prev = 0.3, 0.6
    x0 = (z - math.sqrt(1 - a_t) * eps_g) / math.sqrt(a_t)
    expected = math.sqrt(a_prev) * x0 + math.sqrt(1 - a_prev) * eps
    torch.testing.assert_close(eta_step(z, eps, eps_g, a_t, a_prev, 0.0, None), expected)


def test_regional_sde_with_both_etas_zero_equals_ddim():
    z, eps, eps_g = torch.randn(1, 4, 8, 8), torch.randn(1, 4, 8, 8), torch.randn(1, 4, 8, 8)
    mask = torch.zeros(1, 1, 8, 8)
    mask[..., 2:5, 2:5] = 1
    plain = eta_step(z, eps, eps_g, 0.2, 0.5, 0.0, None)
    sde = regional_sde_step(z, eps, eps_g, 0.2, 0.5, 0.0, 0.0, mask, torch.randn_like(z))
    torch.testing.assert_close(sde, plain)


def test_regional_sde_outside_the_mask_does_not_depend_on_the_noise():
    z, eps = torch.randn(1, 4, 8, 8), torch.randn(1, 4, 8, 8)
    mask = torch.zeros(1, 1, 8, 8)
    mask[..., 2:5, 2:5] = 1
    noises = [torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(s)) for s in (1, 2)]
    a, b = (regional_sde_step(z, eps, eps, 0.2, 0.5, 0.4, 0.0, mask, n) for n in noises)
    outside = mask.expand_as(a) == 0
    assert torch.equal(a[outside], b[outside])
    assert not torch.allclose(a[~outside], b[~outside])
    # inside is the eta_in step exactly
    torch.testing.assert_close(
        a[~outside], eta_step(z, eps, eps, 0.2, 0.5, 0.4, noises[0])[~outside]
    )
