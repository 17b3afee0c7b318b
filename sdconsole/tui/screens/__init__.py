"""The console's screens and modals, one module each."""
