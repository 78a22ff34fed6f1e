"""Previewing cards: a built deck goes in (imported into a temporary Anki collection), one
HTML page comes out, showing every card as Anki's reviewer shows it, light and night.

:mod:`~paperdeck.preview.assets` finds Anki's own MathJax and reviewer CSS, ``cards`` reads
each card's HTML from a real collection, ``page`` composes the page (pure) and ``make``
runs the steps for ``paperdeck preview``.
"""
