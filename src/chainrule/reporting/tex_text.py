"""TeX math as plain Unicode text, for terminals, HTML and graph labels.

One converter for the math chainrule writes in TeX (derive's equations, component formulas):
``tex_to_text(r"\\partial\\mathcal{L}/\\partial W_1") == "∂L/∂W₁"``. ``display_width`` measures
such text as a terminal shows it (combining marks take no column).
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["display_width", "tex_to_text"]


def display_width(text: str) -> int:
    """Columns ``text`` takes in a terminal: combining marks (the tilde of Ã) take none."""
    return sum(0 if unicodedata.combining(ch) else 1 for ch in text)


_SYMBOLS = {
    "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε", "varepsilon": "ε", "eta": "η",
    "lambda": "λ", "mu": "μ", "rho": "ρ", "sigma": "σ", "theta": "θ", "partial": "∂",
    "odot": "⊙", "oslash": "⊘", "times": "×", "cdot": "·", "leftarrow": "←", "to": "→",
    "le": "≤", "ge": "≥", "in": "∈", "ldots": "…", "sum": "Σ", "top": "⊤", "lVert": "‖",
    "rVert": "‖", "log": "log", "exp": "exp", "max": "max", "min": "min", "tanh": "tanh",
    "quad": "  ", ",": " ", ";": " ", "!": "", "{": "{", "}": "}", "|": "‖", "_": "_",
    "%": "%", "left": "", "right": "",
}  # fmt: skip
_ARGUMENT_COMMANDS = {"text", "operatorname", "mathrm", "mathbf", "mathcal", "mathit", "tilde", "hat", "sqrt", "bar"}  # fmt: skip
_SUBSCRIPTS = dict(
    zip("0123456789+-=()aehijklmnoprstuvx−", "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓ₋", strict=True)
)
_SUPERSCRIPTS = dict(
    zip(
        "0123456789+-=()abcdefghijklmnoprstuvwxyzT⊤−'",
        "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ᵃᵇᶜᵈᵉᶠᵍʰⁱʲᵏˡᵐⁿᵒᵖʳˢᵗᵘᵛʷˣʸᶻᵀᵀ⁻′",
        strict=True,
    )
)


def tex_to_text(tex: str) -> str:
    """TeX math as plain Unicode: ``\\delta_2 W_2^\\top`` -> ``δ₂ W₂ᵀ``.

    Covers the notation chainrule writes: Greek letters and operators by name, ``_`` and ``^``
    as Unicode sub- and superscripts where every character has one (``W_{l+1}`` -> ``Wₗ₊₁``)
    and as ``_(…)`` / ``^(…)`` where not, ``\\tilde``/``\\hat``/``\\bar`` as combining marks,
    ``\\sqrt{x}`` as ``√x``; font commands (``\\mathcal``, ``\\text``, ``\\operatorname``) keep
    their argument. An unknown command prints its name.
    """
    text, _ = _convert(tex, 0)
    # NFC: A + combining tilde becomes the one character Ã where Unicode has it.
    return unicodedata.normalize("NFC", re.sub(r" {2,}", " ", text).strip())


def _convert(tex: str, i: int, stop: str | None = None) -> tuple[str, int]:
    out: list[str] = []
    while i < len(tex):
        ch = tex[i]
        if stop is not None and ch == stop:
            return "".join(out), i + 1
        if ch == "{":
            group, i = _convert(tex, i + 1, "}")
            out.append(group)
        elif ch == "\\":
            name, i = _command_name(tex, i + 1)
            if name in _ARGUMENT_COMMANDS:
                argument, i = _argument(tex, i)
                out.append(_apply(name, argument))
            else:
                out.append(_SYMBOLS.get(name, name))
                if name == "partial":  # ∂L/∂W, not ∂L/∂ W
                    while i < len(tex) and tex[i] == " ":
                        i += 1
        elif ch in "_^":
            argument, i = _argument(tex, i + 1)
            out.append(_script(argument, _SUBSCRIPTS if ch == "_" else _SUPERSCRIPTS, ch))
        elif ch == "-":
            out.append("−")
            i += 1
        else:
            out.append(ch)
            i += 1
    return "".join(out), i


def _command_name(tex: str, i: int) -> tuple[str, int]:
    j = i
    while j < len(tex) and tex[j].isalpha():
        j += 1
    if j == i:  # a one-character command: \, \; \{ \|
        return tex[i : i + 1], i + 1
    return tex[i:j], j


def _argument(tex: str, i: int) -> tuple[str, int]:
    """The next group or single token, converted."""
    while i < len(tex) and tex[i] == " ":
        i += 1
    if i >= len(tex):
        return "", i
    if tex[i] == "{":
        return _convert(tex, i + 1, "}")
    if tex[i] == "\\":
        name, j = _command_name(tex, i + 1)
        return _SYMBOLS.get(name, name), j
    return ("−" if tex[i] == "-" else tex[i]), i + 1


def _apply(command: str, argument: str) -> str:
    if command == "tilde":
        return argument[:1] + "\u0303" + argument[1:]
    if command == "hat":
        return argument[:1] + "\u0302" + argument[1:]
    if command == "bar":
        return argument[:1] + "\u0304" + argument[1:]
    if command == "sqrt":
        return "√" + (argument if display_width(argument) == 1 else f"({argument})")
    return argument


def _script(argument: str, table: dict[str, str], mark: str) -> str:
    if argument and all(ch in table for ch in argument):
        return "".join(table[ch] for ch in argument)
    return mark + (argument if display_width(argument) == 1 else f"({argument})")
