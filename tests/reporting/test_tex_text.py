"""TeX math as plain Unicode: the notation derive, the graphs and the renderers write."""

from __future__ import annotations

from chainrule.reporting.tex_text import display_width, tex_to_text


def test_tex_to_text_covers_the_notation_used():
    assert tex_to_text(r"\delta_{l+1} W_{l+1}^\top") == "δₗ₊₁ Wₗ₊₁ᵀ"
    assert tex_to_text(r"\epsilon = 10^{-8}") == "ε = 10⁻⁸"
    assert tex_to_text(r"\hat{m} \oslash (\sqrt{\hat{v}} + \epsilon)") == "m̂ ⊘ (√v̂ + ε)"
    assert tex_to_text(r"\tilde{A}_1^\top") == "Ã₁ᵀ"
    assert tex_to_text(r"\partial\mathcal{L}/\partial W_1") == "∂L/∂W₁"


def test_scripts_without_a_unicode_form_are_bracketed():
    assert tex_to_text(r"W_{fc}") == "W_(fc)"  # no subscript f or c in Unicode
    assert tex_to_text(r"\lVert{W_1}\rVert_F^2") == "‖W₁‖_F²"
    assert tex_to_text(r"\operatorname{softmax}(Z_2)") == "softmax(Z₂)"


def test_display_width_counts_columns_not_code_points():
    assert display_width("m̂") == 1  # m + combining circumflex
    assert display_width("δ₂ W₂ᵀ") == 6
