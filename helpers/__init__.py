"""Plumbing for the transfer-learning course notebooks: profiles, data, plots, widgets, results.

Importing this package only defines things: it downloads, seeds and prints nothing.
"""

__version__ = "0.1.0"
