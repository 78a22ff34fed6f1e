"""Figure specs in notes: defaults, and every invalid parameter reported at its line."""

from __future__ import annotations

import pytest

from paperdeck.figures.spec import duplicate_name_errors, parse_spec, read_figure_specs
from paperdeck.notes.parse import parse_note


def spec_of(body: str) -> tuple[object, list[str]]:
    spec, problems = parse_spec(body, path="n.md", fence_line=10)
    return spec, [str(p) for p in problems]


def test_simplex_defaults_are_the_concrete_papers_figure() -> None:
    spec, problems = spec_of("name: s.png\nkind: simplex\n")
    assert problems == []
    assert spec is not None
    assert spec.params == {  # type: ignore[attr-defined]
        "pi": (2.0, 0.5, 1.0),
        "taus": (0.0, 0.5, 1.0, 2.0),
        "samples": 2000,
        "grid": 200,
        "seed": 0,
    }


def test_fractions_and_single_values_are_accepted() -> None:
    spec, problems = spec_of("name: s.png\nkind: segment\ntau: 1/2\npi: [1, 3]\n")
    assert problems == []
    assert spec.params["taus"] == (0.5,)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "body,message",
    [
        ("name: s.png\nkind: pie\n", "n.md:12: error: unknown figure kind 'pie'"),
        (
            "name: s.png\nkind: simplex\ntau: [1, -1]\n",
            "n.md:13: error: invalid 'tau': temperature",
        ),
        ("name: s.png\nkind: simplex\npi: [1, 0, 2]\n", "n.md:13: error: invalid 'pi': probabil"),
        (
            "name: s.png\nkind: simplex\npi: [1, 2]\n",
            "n.md:13: error: invalid 'pi': this kind draws",
        ),
        ("name: s.png\nkind: segment\npi: [1, 2, 3]\n", "n.md:13: error: invalid 'pi'"),
        ("name: s.png\nkind: simplex\ncolour: red\n", "n.md:13: error: unknown parameter 'colour'"),
        ("name: s.png\nkind: simplex\nsamples: lots\n", "n.md:13: error: invalid 'samples'"),
        ("name: s.png\nkind: simplex\ntau: .nan\n", "n.md:13: error: invalid 'tau'"),
        ("name: s.png\nkind: gradient-variance\ntau: [0, 1]\n", "temperature must be > 0"),
        (
            "name: s.png\nkind: simplex\ntau: [1e6]\n",
            "n.md:13: error: invalid 'tau': temperature must be at most",
        ),
        (
            "name: s.png\nkind: simplex\npi: [1e-300, 1, 1]\n",
            "n.md:13: error: invalid 'pi': the largest",
        ),
        ("name: s.png\nkind: gradient-variance\ntheta: 50\n", "n.md:13: error: invalid 'theta'"),
        ("name: ../s.png\nkind: simplex\n", "n.md:11: error: figure 'name' must be a file name"),
        ("name: s.png\nkind: [simplex\n", "n.md:12: error: invalid figure spec"),
        ("- just\n- a list\n", "n.md:10: error: figure spec must be a mapping"),
    ],
)
def test_invalid_specs_name_the_line(body: str, message: str) -> None:
    spec, problems = spec_of(body)
    assert spec is None
    assert any(message in p for p in problems), problems


def test_specs_are_read_from_fences_and_duplicates_reported() -> None:
    text = (
        "Title: t\n\n```paperdeck-figure\nname: a.png\nkind: bars\n```\n\n"
        "```python\nname: not a spec\n```\n\n"
        "```paperdeck-figure\nname: a.png\nkind: segment\n```\n"
    )
    note, _ = parse_note(text, path="n.md")
    specs, problems = read_figure_specs(note)
    assert problems == []
    assert [(s.kind, s.line) for s in specs] == [("bars", 3), ("segment", 12)]
    assert [str(d) for d in duplicate_name_errors(specs)] == [
        "n.md:3: error: figure 'a.png' is also defined at n.md:12",
        "n.md:12: error: figure 'a.png' is also defined at n.md:3",
    ]
