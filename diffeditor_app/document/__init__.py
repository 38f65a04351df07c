"""The document layer (see docs/ARCHITECTURE.md); filled by the desktop-app issue."""
