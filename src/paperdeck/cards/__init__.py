"""Rendering: a parsed note in, Anki notes (HTML fields, tags, deck, media files) out.

Imports only from :mod:`paperdeck.notes` and the shared top-level modules.
"""
