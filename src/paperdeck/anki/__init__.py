"""Anki itself: rendered notes in, an ``.apkg`` file or changes to a live collection out.

:mod:`~paperdeck.anki.apkg` needs only genanki; :mod:`~paperdeck.anki.collection` needs
Anki's own package, imported when a function runs.
"""
