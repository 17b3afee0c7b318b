"""A run as a process of its own: its control socket, and the clients that attach to it."""
