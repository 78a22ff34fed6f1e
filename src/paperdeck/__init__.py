"""paperdeck: Obsidian paper notes in, Anki decks (with computed figures) out."""

__version__ = "0.1.0"
