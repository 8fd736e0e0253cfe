"""What attuned keeps between runs: the SQLite history, the random seed."""
