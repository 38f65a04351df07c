"""The DiffEditor method itself: inversion with a memory bank, the image prompt, features and
energies for the gradient guidance, the per-task plans and the sampling loop."""
