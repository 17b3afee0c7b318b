"""The console's themes, as TOML files (shipped in the package as sdconsole.themes)."""
