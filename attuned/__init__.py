"""attuned: gentle, dependable nudges for practising attunement with a partner."""

__version__ = "0.1.0"
