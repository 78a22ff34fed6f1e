r"""Shared LaTeX macros: a vault's macros.tex read, expanded into every card's math at build
time (so that every Anki client shows them), and the commands nothing defines reported.

The pure parts are checked directly; the whole through the real CLI, a real Anki collection
(the fields as Anki holds them) and, in ``tests/browser/test_macros_typeset.py``, Anki's own
MathJax in Chromium.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paperdeck.cards.macros import Macro, MacroError, VaultTex, expand, parse_macros
from paperdeck.cards.macros.check import unknown_commands
from paperdeck.cards.macros.known import mathjax_known
from paperdeck.cards.render import render_field

from conftest import REPO, cli, cli_ok, import_apkg

FIXTURE = REPO / "tests" / "fixtures" / "macros_vault"
SCRIPT = REPO / "scripts" / "known_tex_commands.py"
LIST = REPO / "src" / "paperdeck" / "cards" / "macros" / "mathjax_commands.txt"


def macros(text: str) -> dict[str, Macro]:
    parsed = parse_macros(text, path="macros.tex")
    assert parsed.diagnostics == [], parsed.diagnostics
    return parsed.macros


def problems(text: str) -> list[str]:
    return [str(d) for d in parse_macros(text, path="macros.tex").diagnostics]


# -- reading macros.tex --------------------------------------------------------------------


def test_every_form_of_definition_is_read() -> None:
    found = macros(
        r"""
\newcommand{\R}{\mathbb{R}}
\newcommand\N{\mathbb{N}}
\newcommand*{\norm}[1]{\lVert #1 \rVert}
\newcommand{\Lp}[1][2]{L^{#1}}
\renewcommand{\vec}[1]{\mathbf{#1}}
\providecommand{\Z}{\mathbb{Z}}
\providecommand{\frac}[2]{#1/#2}
\DeclareMathOperator{\KL}{KL}
\DeclareMathOperator*{\argmax}{arg\,max}
\def\E#1{\mathbb{E}[#1]}
\def\pair #1#2{(#1, #2)}
\newcommand{\long}{%
  a%   a comment joins the lines
  b}
"""
    )
    shapes = {name: (m.params, m.default, m.body, m.line) for name, m in found.items()}
    assert shapes == {
        "R": (0, None, r"\mathbb{R}", 2),
        "N": (0, None, r"\mathbb{N}", 3),
        "norm": (1, None, r"\lVert #1 \rVert", 4),
        "Lp": (1, "2", "L^{#1}", 5),
        "vec": (1, None, r"\mathbf{#1}", 6),
        "Z": (0, None, r"\mathbb{Z}", 7),
        "KL": (0, None, r"\operatorname{KL}", 9),
        "argmax": (0, None, r"\operatorname*{arg\,max}", 10),
        "E": (1, None, r"\mathbb{E}[#1]", 11),
        "pair": (2, None, "(#1, #2)", 12),
        "long": (0, None, "ab", 13),
    }  # \providecommand{\frac} does nothing: MathJax has \frac


def test_problems_in_macros_tex_are_warnings_at_their_lines() -> None:
    found = problems(
        "\\usepackage{amsmath}\n"  # 1
        "\\newcommand{\\R}{\\mathbb{R}}\n"  # 2
        "\\newcommand{\\R}{x}\n"  # 3: already defined here
        "\\newcommand{\\frac}{x}\n"  # 4: already defined by MathJax
        "\\renewcommand{\\nothing}{x}\n"  # 5: not defined, defined all the same
        "\\newcommand{\\bad}[1]{#2}\n"  # 6
        "\\newcommand{\\many}[x]{}\n"  # 7
        "\\def\\delimited#1.{#1}\n"  # 8
        "stray text\n"  # 9
        "\\newcommand{\\uses}{\\argmax}\n"  # 10: \argmax is nowhere
        "\\newcommand{\\open}{\\left(\n"  # 11: never closed ...
        "\\newcommand{\\after}{y}\n"  # 12: ... and reading goes on
    )
    assert found == [
        "macros.tex:1: warning: \\usepackage is ignored: macros.tex holds only \\newcommand, "
        "\\renewcommand, \\providecommand, \\DeclareMathOperator and \\def",
        "macros.tex:3: warning: \\R is already defined on line 2; \\renewcommand would replace it",
        "macros.tex:4: warning: \\frac is already defined in Anki's MathJax; \\renewcommand "
        "would replace it",
        "macros.tex:5: warning: \\nothing was not defined (\\renewcommand replaces); "
        "defined all the same",
        "macros.tex:6: warning: \\bad: #2 in its definition, but it takes 1 argument",
        "macros.tex:7: warning: \\newcommand{\\many}: [x] must be a number from 0 to 9",
        "macros.tex:8: warning: \\def\\delimited: only parameters #1#2... right before the "
        "{definition} are read (TeX's delimited parameters are not)",
        "macros.tex:9: warning: unexpected text 'stray text': macros.tex holds only "
        "\\newcommand, \\renewcommand, \\providecommand, \\DeclareMathOperator and \\def",
        "macros.tex:10: warning: \\argmax, used by \\uses, is neither defined in macros.tex nor "
        "known to Anki's MathJax",
        "macros.tex:11: warning: \\newcommand{\\open}: the { opening its definition is never "
        "closed",
    ]
    kept = parse_macros("\\newcommand{\\open}{\\left(\n\\newcommand{\\after}{y}\n", path="m").macros
    assert list(kept) == ["after"]


# -- expanding -----------------------------------------------------------------------------

VAULT = macros(
    r"""
\newcommand{\R}{\mathbb{R}}
\newcommand{\norm}[1]{\left\lVert #1 \right\rVert}
\newcommand{\Lp}[1][2]{L^{#1}}
\newcommand{\ip}[3][]{\langle #2, #3 \rangle_{#1}}
\newcommand{\Rn}{\R^{n}}
\newcommand{\dist}[2]{\norm{#1 - #2}}
\newcommand{\eps}{\varepsilon}
\newcommand{\bfx}[1]{\mathbf#1}
\newcommand{\hash}{a##b}
\newcommand{\pair}[2]{(#1, #2)}
\newcommand{\first}[1]{\pair{#1}}
\newcommand{\Lspace}{\Lp}
\newcommand{\nothing}{}
\DeclareMathOperator*{\argmax}{arg\,max}
\def\E#1{\mathbb{E}[#1]}
"""
)


@pytest.mark.parametrize(
    ("tex", "expanded"),
    [
        (r"x \in \R", r"x \in \mathbb{R}"),
        (r"\R^2", r"\mathbb{R}^2"),
        (r"\norm{x+y}", r"\left\lVert x+y \right\rVert"),
        (r"\norm x", r"\left\lVert x \right\rVert"),  # one token, as in TeX
        (r"\norm\alpha", r"\left\lVert \alpha \right\rVert"),
        (r"\norm {x}", r"\left\lVert x \right\rVert"),
        (r"\Lp", "L^{2}"),  # the default
        (r"\Lp[1]", "L^{1}"),
        (r"\ip{a}{b}", r"\langle a, b \rangle_{}"),
        (r"\ip[w]{a}{b}", r"\langle a, b \rangle_{w}"),
        (r"\Rn", r"\mathbb{R}^{n}"),  # nested
        (r"\dist x y", r"\left\lVert x - y \right\rVert"),  # arguments passed on
        (r"\norm{\norm{x}}", r"\left\lVert \left\lVert x \right\rVert \right\rVert"),
        (r"\eps x", r"\varepsilon x"),  # a control word never runs into a letter
        (r"\eps\eps", r"\varepsilon\varepsilon"),
        (r"\bfx{v}", r"\mathbf v"),
        (r"\hash", "a#b"),  # ## is #, as in TeX
        (r"\first{a}{b} + \first a b", "(a, b) + (a, b)"),  # a body takes what follows it
        (r"\Lspace[1] \Lspace", "L^{1} L^{2}"),
        (r"\alpha\nothing x", r"\alpha x"),
        (r"\argmax_x f", r"\operatorname*{arg\,max}_x f"),
        (r"\E{X}", r"\mathbb{E}[X]"),
        (r"\Rx \R", r"\Rx \mathbb{R}"),  # \Rx is another command
        (r"\text{in \R}", r"\text{in \mathbb{R}}"),  # a macro used in text is the user's
        (
            "\\R % \\R stays in the comment\n\\R",
            "\\mathbb{R}% \\R stays in the comment\n\\mathbb{R}",  # TeX eats the space
        ),
        (r"\newcommand{\R}{x} \R", r"\newcommand{\R}{x} \mathbb{R}"),  # its name is kept
        (r"\def\R{x}", r"\def\R{x}"),
    ],
)
def test_macros_expand_as_in_tex(tex: str, expanded: str) -> None:
    assert expand(tex, VAULT) == expanded


def test_a_macro_missing_its_argument_is_reported() -> None:
    with pytest.raises(MacroError, match=r"\\norm takes 1 argument, but the math ends") as info:
        expand(r"x + \norm", VAULT)
    assert not info.value.runaway


def test_a_macro_that_uses_itself_stops_with_its_cycle() -> None:
    loop = macros("\\newcommand{\\a}{x\\b}\n\\newcommand{\\b}{\\a}\n")
    with pytest.raises(MacroError) as info:
        expand(r"1 + \a", loop)
    assert info.value.runaway
    assert str(info.value) == r"macros expand without end (\a → \b → \a): does one use itself?"
    growing = macros("\\def\\x{\\x\\x}\n")
    with pytest.raises(MacroError, match=r"\\x → \\x"):
        expand(r"\x", growing)


def test_a_macro_that_grows_too_large_stops() -> None:
    big = macros(
        "\\def\\a{" + "x" * 1000 + "}\n" + "\\def\\b{\\a\\a\\a\\a\\a\\a\\a\\a\\a\\a}\n"
        "\\def\\c{\\b\\b\\b\\b\\b\\b\\b\\b\\b\\b}\n"
    )
    with pytest.raises(MacroError, match="more than 100,000 characters longer"):
        expand(r"\c\c", big)


_TEX = st.text(alphabet="\\{}[]#%$&^_ \n\tabcxyz0123,αé", max_size=60)
_NAMES = st.sampled_from(["R", "norm", "Lp", "ip", "E", "eps"])


@given(_TEX)
def test_math_without_macros_comes_out_unchanged(tex: str) -> None:
    """Nothing but a macro's use is ever rewritten: the alphabet cannot spell a name of
    ``VAULT`` (``R``, ``norm``, ``E``... need letters it lacks)."""
    assert expand(tex, VAULT) == tex


@given(st.lists(st.one_of(_TEX, _NAMES.map(lambda n: "\\" + n + " ")), max_size=8))
def test_expanded_math_has_no_macro_left(pieces: list[str]) -> None:
    """Whatever surrounds them, every use of a macro is expanded (or the math is refused)."""
    tex = "".join(pieces)
    try:
        out = expand(tex, VAULT)
    except MacroError as exc:
        assert not exc.runaway
        return
    assert unknown_commands(out, {}, mathjax_known()) == unknown_commands(
        tex, VAULT, mathjax_known()
    )


@given(st.text(alphabet="$\\{}ab _^\n`*=", max_size=50))
def test_rendering_with_the_vault_s_tex_changes_nothing_without_macros(markdown: str) -> None:
    tex = VaultTex(VAULT).field()
    assert render_field(markdown, tex=tex) == render_field(markdown)


# -- commands nothing defines --------------------------------------------------------------


@pytest.mark.parametrize(
    ("tex", "unknown"),
    [
        (r"\frac{a}{b} + \mathbb{R} + \operatorname{sgn} + \boldsymbol{x}", []),
        (r"\argmax_x f(x)", [r"\argmax"]),
        (r"\argmax \argmax \foo", [r"\argmax", r"\foo"]),
        (r"\norm{x} \R", []),  # the vault's own
        (r"\text{\foo and \bar}", []),  # text: MathJax shows it as written
        (r"\textbf {\foo}", []),
        (r"\text{if $\foo$}", [r"\foo"]),  # but math inside text is math
        (r"\text{if \(\foo\)}", [r"\foo"]),
        (r"\begin{aligned} a &= b \end{aligned}", []),
        (r"\begin{proof} a \end{proof}", [r"\begin{proof}"]),
        (r"\newcommand{\foo}{x} \foo + \def\bar{y} \bar", []),
        (r"\label{\foo} \color{red}{x} \verb|\foo|", []),
        ("a\\ b \\, c \\; d \\\\ e \\{ \\}", []),
        ("% \\foo in a comment\nx", []),
    ],
)
def test_commands_nothing_defines_are_found(tex: str, unknown: list[str]) -> None:
    assert unknown_commands(tex, {"norm", "R"}, mathjax_known()) == unknown


TEX_PIECES = [
    *(r"\alpha", r"\argmax", r"\R", r"\norm", r"\frac", r"\foo", r"\\", "\\ ", "\\"),
    *(r"\text{\foo $\bar$}", r"\begin{pmatrix}", r"\begin{proof}", r"\end{x}", r"\{"),
    *(r"\newcommand{\z}{1}", r"\z", r"\label{\q}", r"\verb|\q|", "{", "}", "x", "$", " "),
]


@given(st.lists(st.sampled_from(TEX_PIECES), max_size=12), st.booleans())
def test_math_of_plain_commands_is_checked_as_the_full_walk_checks_it(
    pieces: list[str], defined_before: bool
) -> None:
    """Math without a comment, text or definition is looked up command by command; a
    trailing comment makes the check walk the math in full, which must find the same."""
    tex = "".join(pieces)
    quick, walked = {"foo"} if defined_before else set(), {"foo"} if defined_before else set()
    found = unknown_commands(tex, {"norm", "R"}, mathjax_known(), local=quick)
    assert found == unknown_commands(tex + "%", {"norm", "R"}, mathjax_known(), local=walked)
    assert quick == walked


def test_the_list_of_mathjax_commands_is_mathjax_s() -> None:
    known = mathjax_known()
    for name in ("frac", "mathbb", "operatorname", "text", "boldsymbol", "ce", "lVert", "{"):
        assert known.knows(name), name
    for name in ("argmax", "R", "qty", "textsc"):  # physics is not loaded; no \textsc
        assert not known.knows(name), name
    assert {"align", "aligned", "pmatrix", "cases", "CD"} <= known.environments
    assert "proof" not in known.environments
    header = LIST.read_text(encoding="utf-8").splitlines()[:3]
    assert header[0].startswith("# The TeX commands and environments of MathJax 3.")
    assert "scripts/known_tex_commands.py" in header[1]
    names = [line for line in LIST.read_text(encoding="utf-8").splitlines() if line[:1] != "#"]
    assert names == sorted(set(names)) and len(names) > 1000


def test_the_list_is_what_the_script_makes(tmp_path: Path) -> None:
    """Made again from Anki's MathJax in Chromium, the list is the one in the package."""
    from paperdeck.preview.assets import find_anki_assets

    if not (
        os.environ.get("PAPERDECK_CHROMIUM")
        or shutil.which("chromium")
        or shutil.which("chromium-browser")
    ):
        pytest.skip("Chromium not found: apt-get install -y chromium (or PAPERDECK_CHROMIUM)")
    if find_anki_assets() is None:
        pytest.skip("Anki's MathJax is not installed (pip install --no-deps aqt==<anki>)")
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    made = tmp_path / "list.txt"
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "-o", str(made)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert made.read_text(encoding="utf-8") == LIST.read_text(encoding="utf-8")


# -- through the CLI and into Anki ---------------------------------------------------------


@pytest.fixture
def macro_vault(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The macros fixture vault, copied into a temporary working directory."""
    monkeypatch.chdir(tmp_path)
    shutil.copytree(FIXTURE, tmp_path / "notes")
    return tmp_path / "notes"


def fields(col: Any) -> dict[int, list[str]]:
    return {int(nid): list(col.get_note(nid).fields) for nid in col.find_notes("")}


def test_cards_reach_anki_with_their_macros_expanded(macro_vault: Path, collection: Any) -> None:
    note = macro_vault / "Macros in practice.md"
    before = note.read_bytes()
    result = cli_ok("build", str(macro_vault))
    assert "3 cards from 1 note" in result.output  # macros.tex is no note
    assert "warning" not in result.output
    assert note.read_bytes() == before  # the note keeps its macros

    import_apkg(collection, Path("cards/notes.apkg"))

    cards = fields(collection)
    assert cards[1700000000201][:2] == [
        r"<p>What is \(\left\lVert x \right\rVert\) for \(x \in \mathbb{R}^{n}\)?</p>",
        r"<p>The length \(\sqrt{\left\langle x, x \right\rangle_{}}\) of \(x \in L^{2}\), so "
        r"\(\left\lVert x - y \right\rVert = \left\lVert x - y \right\rVert\) and "
        r"\(\left\lVert \alpha \right\rVert \ge 0\).</p>",
    ]
    assert cards[1700000000202][1] == (
        r"\[\hat\theta = \operatorname*{arg\,max}_{\theta \in \left\{ 1, 2 \right\}} "
        r"\mathbb{E}\left[\log p_\theta(x)\right]\]"
    )
    assert cards[1700000000203][:2] == [
        r"<p>How is the KL divergence between \(\boldsymbol{p}\) and \(\boldsymbol{q}\) "
        "written?</p>",
        r"<p>\(\operatorname{KL}\left(p, q\right) = \sum_i p_i \log \frac{p_i}{q_i}\), and a "
        r"weighted product is \(\left\langle a, b \right\rangle_{w}\) (in \(L^{1}\)).</p>",
    ]


def test_without_macros_tex_its_commands_are_reported_at_their_lines(macro_vault: Path) -> None:
    (macro_vault / "macros.tex").unlink()
    result = cli_ok("build", str(macro_vault))
    note = os.path.join("notes", "Macros in practice.md")
    shown = (
        "is neither defined in macros.tex nor known to Anki's MathJax (the card shows it in red)"
    )
    warnings = {line for line in result.output.splitlines() if ": warning: " in line}
    expected = {
        6: ["Rn", "norm"],
        7: ["Lp", "dist", "ip", "norm"],
        11: ["E", "argmax", "setof"],
        15: ["KL", "Lp", "ip", "pair"],
    }  # not \vec (MathJax has one), nor line 4 (prose, on no card)
    assert warnings == {
        f"{note}:{line}: warning: \\{name} {shown}"
        for line, names in expected.items()
        for name in names
    }


def test_unknown_commands_are_warnings_at_their_lines_but_not_in_text_or_code(
    empty_vault: Path,
) -> None:
    (empty_vault / "n.md").write_text(
        "Q: Where is $\\argmax$?\n"
        "A: In `$\\nocode$`, $\\text{\\notmath}$,\n"
        "\n"
        "```\n$\\notincode$\n```\n"
        "\n"
        "| a | b |\n|---|---|\n| $\\incell$ | $\\frac12$ |\n"
        "\n"
        "$$\n\\begin{proof}\\end{proof}\n$$\n"
        "<!--ID: 1700000000301-->\n"
    )
    result = cli_ok("build", str(empty_vault))
    warnings = [line for line in result.output.splitlines() if ": warning: " in line]
    shown = "is neither defined in macros.tex nor known to Anki's MathJax"
    assert warnings == [
        f"{os.path.join('notes', 'n.md')}:1: warning: \\argmax {shown} (the card shows it in red)",
        f"{os.path.join('notes', 'n.md')}:10: warning: \\incell {shown} (the card shows it in red)",
        f"{os.path.join('notes', 'n.md')}:12: warning: \\begin{{proof}} {shown} "
        "(the card shows an error)",
    ]


def test_a_runaway_macro_is_an_error_at_the_note_s_line(empty_vault: Path) -> None:
    (empty_vault / "macros.tex").write_text("\\newcommand{\\loop}{\\loop x}\n")
    (empty_vault / "n.md").write_text(
        "Q: What?\nA: $\\loop$ and $\\loop$\n<!--ID: 1700000000302-->\n"
    )
    result = cli("build", str(empty_vault))
    assert result.exit_code == 1
    assert (
        f"{os.path.join('notes', 'n.md')}:2: error: macros expand without end "
        "(\\loop → \\loop): does one use itself?"
    ) in result.output
    assert not Path("cards/notes.apkg").exists()


def test_problems_in_macros_tex_are_reported_on_every_build(empty_vault: Path) -> None:
    (empty_vault / "macros.tex").write_text("\\newcommand{\\R}{\\mathbb{R}}\n\\usepackage{x}\n")
    (empty_vault / "n.md").write_text("Q: $\\R$?\nA: yes\n<!--ID: 1700000000303-->\n")
    first = cli_ok("build", str(empty_vault)).output
    again = cli_ok("build", str(empty_vault)).output
    warning = f"{os.path.join('notes', 'macros.tex')}:2: warning: \\usepackage is ignored"
    assert warning in first
    assert "is up to date" in again and warning in again
    checked = cli_ok("check", str(empty_vault)).output
    assert warning in checked


def test_the_configuration_may_name_another_macros_file(empty_vault: Path) -> None:
    (empty_vault / "tex").mkdir()
    (empty_vault / "tex" / "preamble.tex").write_text("\\def\\R{\\mathbb{R}}\n")
    (empty_vault / "macros.tex").write_text("\\def\\R{\\mathbf{R}}\n")  # not used then
    (empty_vault / "paperdeck.toml").write_text('macros = "tex/preamble.tex"\n')
    (empty_vault / "n.md").write_text("Q: $\\R$?\nA: yes\n<!--ID: 1700000000304-->\n")
    cli_ok("build", str(empty_vault))
    with zipfile.ZipFile("cards/notes.apkg") as deck:
        data = deck.read("collection.anki2")
    assert rb"\(\mathbb{R}\)" in data and rb"\mathbf{R}" not in data
    (empty_vault / "paperdeck.toml").write_text('macros = "tex/missing.tex"\n')
    result = cli_ok("build", str(empty_vault))
    missing = os.path.join("notes", "tex", "missing.tex")
    assert f"{missing}: warning: macros file not found" in result.output


def test_a_macros_file_that_cannot_be_used_is_a_warning(empty_vault: Path) -> None:
    (empty_vault / "n.md").write_text("Q: $x$?\nA: yes\n<!--ID: 1700000000305-->\n")
    shown = os.path.join("notes", "macros.tex")
    (empty_vault / "macros.tex").mkdir()
    result = cli_ok("build", str(empty_vault))
    assert f"{shown}: warning: cannot read the macros file: " in result.output
    (empty_vault / "macros.tex").rmdir()
    (empty_vault / "macros.tex").write_bytes(b"\\newcommand{\\R}{x}\n\\def\\E{\xff}\n")
    result = cli_ok("build", str(empty_vault))
    assert f"{shown}:2: warning: macros file is not valid UTF-8; not used" in result.output
