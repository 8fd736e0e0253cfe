"""The pure core: the model, the timing, the parsers of what people type. No I/O."""
