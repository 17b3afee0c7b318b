"""The migration engine: plain Python, never imports textual or rich."""
