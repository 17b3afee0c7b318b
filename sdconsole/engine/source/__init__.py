"""The SQLite side: reading the source file, and the sample generator that writes test exports."""
