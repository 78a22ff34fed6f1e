"""The study report: a vault and an Anki collection (only read) in, one HTML page out.

``read`` takes the rows from the collection, ``stats`` turns them into each paper's numbers
(pure), ``plots`` draws them (matplotlib, loaded only then), ``page`` writes the HTML (pure)
and ``make`` runs the steps for ``paperdeck report``.
"""
