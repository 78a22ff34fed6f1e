"""Write the list of TeX commands and environments that Anki's MathJax knows, from MathJax
itself: ``src/paperdeck/cards/macros/mathjax_commands.txt``.

Anki ships MathJax 3 (``tex-chtml-full.js``) in its ``aqt`` wheel with a configuration of
its own (``js/mathjax.js``: ``noerrors`` and ``mathtools`` added, ``textmacros`` removed).
This script opens a card page exactly as ``paperdeck preview`` writes it (Anki's files,
Anki's configuration) in the system's Chromium, waits for MathJax to start, and asks the
TeX input jax for every map of every handler its configured packages registered:

- ``macro``: every key of a command map is a command (``frac`` is ``\\frac``); a delimiter
  map answers for a command only under a key that starts with a backslash (``\\lbrace``;
  ``(`` is a delimiter, not a command);
- ``delimiter``: the keys that start with a backslash (commands allowed after ``\\left``);
- ``environment``: every key is an environment (``align`` is ``\\begin{align}``);
- ``character``: single characters (``^``, ``&``) and letter patterns, no commands; only a
  key that starts with a backslash would count, and none does.

Reading MathJax's running tables, not its source, is what makes the list exact: it holds
what Anki's configuration loads and nothing else, whatever MathJax's build or minifier did.
Control symbols whose name is white space (``\\ ``, a backslash before a tab or a newline)
are left out: a line cannot show them, and paperdeck treats them as always known.

Needs Chromium (``$PAPERDECK_CHROMIUM`` or ``chromium`` on PATH), Playwright and Anki's web
files (``pip install --no-deps "aqt==<anki version>"``)::

    .venv/bin/python scripts/known_tex_commands.py            # rewrite the package's list
    .venv/bin/python scripts/known_tex_commands.py -o FILE    # write it elsewhere
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from importlib.metadata import version
from pathlib import Path
from typing import Any

from paperdeck.preview.assets import copy_assets, find_anki_assets, install_command
from paperdeck.preview.page import card_document

REPO = Path(__file__).resolve().parent.parent
LIST = REPO / "src" / "paperdeck" / "cards" / "macros" / "mathjax_commands.txt"

_ENUMERATE = r"""
async () => {
  await MathJax.startup.promise;
  const maps = MathJax._.input.tex.SymbolMap;
  const jax = MathJax.startup.document.inputJax.find((j) => j.name === "TeX");
  const seen = {commands: new Set(), environments: new Set(), skipped: []};
  const keys = (map) => (map.map instanceof Map ? Array.from(map.map.keys()) : null);
  for (const kind of ["macro", "delimiter", "environment", "character"]) {
    for (const entry of jax.parseOptions.handlers.get(kind)._configuration) {
      const map = entry.item;
      const names = keys(map);
      if (names === null) {  // a pattern (letters, digits): no names to list
        seen.skipped.push(`${kind}:${map.name}`);
        continue;
      }
      for (const key of names) {
        if (kind === "environment") seen.environments.add(key);
        else if (key.startsWith("\\")) seen.commands.add(key.slice(1));
        else if (kind === "macro" && !(map instanceof maps.DelimiterMap)) seen.commands.add(key);
      }
    }
  }
  return {
    version: MathJax.version,
    packages: Array.from(new Set(jax.parseOptions.options.packages)),
    commands: Array.from(seen.commands),
    environments: Array.from(seen.environments),
    skipped: seen.skipped,
  };
}
"""


def chromium() -> str:
    named = os.environ.get("PAPERDECK_CHROMIUM")
    found = named if named else shutil.which("chromium") or shutil.which("chromium-browser")
    if not found or not Path(found).is_file():
        sys.exit("Chromium not found: apt-get install -y chromium, or set PAPERDECK_CHROMIUM")
    return found


def ask_mathjax() -> dict[str, Any]:
    """MathJax's own tables, as a page built like Anki's reviewer loads them."""
    from playwright.sync_api import sync_playwright

    assets = find_anki_assets()
    if assets is None:
        sys.exit(f"Anki's web files are not installed: {install_command(version('anki'))}")
    with tempfile.TemporaryDirectory() as folder:
        copy_assets(assets, Path(folder))
        page_file = Path(folder) / "card.html"
        page_file.write_text(card_document("", ordinal=0, night=False, anki=True), "utf-8")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium())
            try:
                page = browser.new_page()
                page.goto(page_file.as_uri())
                found: dict[str, Any] = page.evaluate(_ENUMERATE)
            finally:
                browser.close()
    return found


def listing(found: dict[str, Any]) -> str:
    """The file's text: a header saying what made it, then one name a line, sorted."""
    names = {f"\\{name}" for name in found["commands"] if name.strip()}
    names |= {f"\\begin{{{name}}}" for name in found["environments"]}
    header = [
        f"# The TeX commands and environments of MathJax {found['version']} as Anki "
        f"{version('aqt')} configures it (aqt's js/mathjax.js).",
        "# Made by scripts/known_tex_commands.py from MathJax's own tables; do not edit.",
        f"# Packages: {' '.join(found['packages'])}",
    ]
    return "\n".join([*header, *sorted(names)]) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", type=Path, default=LIST, help="default: %(default)s")
    args = parser.parse_args()
    text = listing(ask_mathjax())
    args.output.write_text(text, encoding="utf-8")
    print(f"{args.output}: {text.count(chr(10)) - 3} names")


if __name__ == "__main__":
    main()
