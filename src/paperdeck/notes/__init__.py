"""Reading a vault: note files in, parsed :class:`~paperdeck.notes.model.Note` values out.

Also the vault's own bookkeeping: card IDs written back into notes, the lock that keeps one
writer per vault, and the card state that travels with the notes.
"""
