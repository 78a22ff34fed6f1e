"""The steps of ``paperdeck report`` (and of ``check --collection``'s leeches): read the
vault, read the collection without writing to it, compute, draw, write one page.

The vault is read as ``paperdeck check`` reads it (no lock, no ID written); the collection
through :func:`~paperdeck.anki.snapshot.open_read_only`, so the user's file is never
written, and one that Anki has open is refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from paperdeck.anki.snapshot import open_read_only
from paperdeck.build import read_vault
from paperdeck.config import Config
from paperdeck.diagnostics import Diagnostic, has_errors
from paperdeck.fileio import atomic_write_bytes, check_output_path
from paperdeck.report.model import StudyReport
from paperdeck.report.page import report_page
from paperdeck.report.read import read_rows
from paperdeck.report.stats import papers_of, study_report
from paperdeck.vaultread import Vault


@dataclass
class ReportResult:
    """What ``paperdeck report`` did."""

    page: Path
    report: StudyReport | None = None
    """``None`` when the vault had errors and the collection was not read."""
    diagnostics: list[Diagnostic] = field(default_factory=list)
    written: bool = False


def vault_name(vault: Vault, config: Config) -> str:
    """The name Obsidian knows the vault by, as the cards' links use it."""
    return config.vault_name or vault.root.resolve().name


def read_report(vault: Vault, collection: Path, config: Config) -> StudyReport:
    """The study report of ``vault`` from the collection at ``collection`` (read only)."""
    with open_read_only(collection) as col:
        rows = read_rows(col)
    return study_report(papers_of(vault), rows, vault_name=vault_name(vault, config))


def make_report(
    notes_dir: Path, collection: Path, target: Path, config: Config, *, strict: bool = False
) -> ReportResult:
    """Write the report page of the vault at ``notes_dir`` to ``target``.

    Errors in the notes (or warnings under ``strict``) write nothing. Raises
    :class:`~paperdeck.anki.collection.CollectionError` for a collection that cannot be read.
    """
    check_output_path(target)
    result = ReportResult(target)
    vault = read_vault(notes_dir, config)
    result.diagnostics += vault.diagnostics
    if has_errors(result.diagnostics, strict=strict):
        return result
    result.report = read_report(vault, collection, config)
    from paperdeck.report.plots import draw_plots  # matplotlib: only once there is a page

    page = report_page(result.report, draw_plots(result.report), vault=notes_dir.resolve().name)
    atomic_write_bytes(target, page.encode("utf-8"))
    result.written = True
    return result
