"""Images and geometry: reading what users have, mapping coordinates across the original
image, the working image and the model's grids, composing and writing results."""
