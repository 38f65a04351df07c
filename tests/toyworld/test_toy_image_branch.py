"""bench/toyworld/image_branch.py measures how far the image prompt moves the noise."""

from image_branch import SCALES, image_branch_effect


def test_the_image_branch_moves_the_noise_more_at_full_weight(tiny_model_dir):
    report = image_branch_effect(str(tiny_model_dir), scenes=1)
    assert set(report) == {
        f"{words}, gamma {scale:g}" for words in ("caption", "empty prompt") for scale in SCALES
    }
    for words in ("caption", "empty prompt"):
        low, full = (report[f"{words}, gamma {scale:g}"] for scale in SCALES)
        assert 0 < low < full  # the branch is on, and gamma scales it
