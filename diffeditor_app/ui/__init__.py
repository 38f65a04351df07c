"""Qt widgets. Never imports torch: the engine is reached through the runtime layer."""
