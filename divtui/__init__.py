"""divtui: diversity vs accuracy of best-of-N sampling on math problems."""

__version__ = "0.1.0"
