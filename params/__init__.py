"""Bundled model files (TOML); this file only makes the folder an installable package."""
