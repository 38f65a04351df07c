"""DiffEditor desktop: fine-grained diffusion-based image editing on Stable Diffusion 1.5."""

__version__ = "0.1.0"
