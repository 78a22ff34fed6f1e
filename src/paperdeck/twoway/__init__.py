"""Two-way sync: an edit made in Anki comes back into its note; a conflict overwrites neither.

For each card ``sync`` compares three versions: the base (the card as the vault gave it,
and its note as Anki held it, at the last sync: kept in the vault's card state), the card
in the vault now, and its note in the collection now.

- changed only in the vault: Anki is updated (a *push*);
- changed only in Anki: the note's Markdown takes the edit (a *pull*), every other byte of
  the file kept, through the same atomic, checked rewrite as new IDs;
- changed on both sides, or edited in Anki in a way that cannot come back without loss: a
  *conflict*. Nothing is written on either side; it is reported at ``path:line`` with both
  versions until one side is made to agree, or a run says which side wins
  (``--prefer notes|anki``).

The modules: ``base`` (what is recorded at each sync), ``decide`` (the three-way decision,
pure), ``pull`` (Anki's fields back into a note's text), ``note_tags`` (tags added in Anki
into the note's header), ``diff`` (what a dry run shows).
"""
