"""Figures computed from specs written in notes.

``spec`` reads and checks the specs (light: no torch, no matplotlib), ``cache`` decides what
is stale and renders only that, ``draw`` holds the figure functions (torch + matplotlib,
imported only when something must be drawn).
"""
