"""Citations: BibTeX text in, entries out (``bibtex``, read once a build by ``load``); a
note's citation key in, its Source line's authors, venue and links out (``cite``, ``links``).
"""
