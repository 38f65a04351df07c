"""Getting a model: specs and profiles, the hub and its offline rules, loading, GPU memory
presets, the image-prompt weights, training them, and tiny models for tests."""
