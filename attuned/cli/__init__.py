"""The command line: thin Click commands, one module per group."""
