"""Decode BibTeX field values (LaTeX) into styled spans of Unicode text.

A field value becomes a list of :class:`Span`: plain Unicode text with a
style (italic, bold, superscript, subscript) and a ``protected`` flag for text
inside braces, whose case a style must not change. From spans we render plain
text, escaped HTML, and pandoc's sentence case for titles.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from typing import NamedTuple

__all__ = ["Span", "parse", "to_text", "to_html", "sentence_case", "decode"]


class Span(NamedTuple):
    text: str
    protected: bool = False
    style: frozenset[str] = frozenset()


_STYLE_COMMANDS = {
    "textit": "i", "emph": "i", "mkbibemph": "i", "textsl": "i", "it": "i", "em": "i",
    "textbf": "b", "mkbibbold": "b", "bf": "b",
    "textsuperscript": "sup", "mkbibsuperscript": "sup",
    "textsubscript": "sub", "mkbibsubscript": "sub",
    "textsc": "", "textrm": "", "textup": "", "textnormal": "", "texttt": "", "mbox": "",
    "url": "", "nolinkurl": "",
    "sc": "", "rm": "", "sf": "", "tt": "", "sl": "i", "itshape": "i", "slshape": "i", "bfseries": "b",
    "scshape": "", "upshape": "", "normalfont": "", "mdseries": "", "sffamily": "", "rmfamily": "", "ttfamily": "",
}
#: Style commands that are declarations (``{\it text}``), not commands with an argument.
_DECLARATIONS = frozenset({"it", "em", "bf", "sc", "rm", "sf", "tt", "sl", "itshape", "slshape", "bfseries", "scshape",
                           "upshape", "normalfont", "mdseries", "sffamily", "rmfamily", "ttfamily"})
#: Commands that quote their argument (biblatex's and csquotes').
_QUOTING = frozenset({"enquote", "mkbibquote", "textquote"})
_SYMBOLS = {
    "&": "&", "%": "%", "$": "$", "#": "#", "_": "_", "{": "{", "}": "}", " ": " ",
    "textendash": "–", "textemdash": "—", "ldots": "…", "dots": "…", "textellipsis": "…",
    "textasciitilde": "~", "textasciicircum": "^", "textbraceleft": "{", "textbraceright": "}",
    "textbackslash": "\\", "textquoteright": "’", "textquoteleft": "‘",
    "textregistered": "®", "texttrademark": "™", "textcopyright": "©", "S": "§", "P": "¶",
    "ss": "ß", "o": "ø", "O": "Ø", "ae": "æ", "AE": "Æ", "oe": "œ", "OE": "Œ", "aa": "å",
    "AA": "Å", "l": "ł", "L": "Ł", "i": "ı", "j": "ȷ", "textdegree": "°", "degree": "°",
    "textpm": "±", "texttimes": "×", "textmu": "µ", "textperthousand": "‰",
    "TeX": "TeX", "LaTeX": "LaTeX", "LaTeXe": "LaTeX2ε", "BibTeX": "BibTeX", "XeTeX": "XeTeX", "LuaTeX": "LuaTeX",
    "ConTeXt": "ConTeXt", "MF": "Metafont", "MP": "MetaPost", "textquotesingle": "'", "textquotedbl": '"',
    "textasciigrave": "`", "textquotedblleft": "“", "textquotedblright": "”", "guillemotleft": "«",
    "guillemotright": "»", "textbullet": "•", "dag": "†", "ddag": "‡", "textdagger": "†", "pounds": "£",
    "textsterling": "£", "texteuro": "€", "euro": "€", "textcent": "¢", "textyen": "¥", "-": "",
    "@": "", ",": "\u2009", "/": "", "nobreakspace": "\u00a0", "slash": "/", "textunderscore": "_",
    "hyphen": "-", "hyphenation": "", "break": "", "newline": " ", "allowbreak": "", "nopunct": "",
}
_MATH = {
    "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ϵ", "varepsilon": "ε",
    "zeta": "ζ", "eta": "η", "theta": "θ", "kappa": "κ", "lambda": "λ", "mu": "μ", "nu": "ν",
    "xi": "ξ", "pi": "π", "rho": "ρ", "sigma": "σ", "tau": "τ", "phi": "ϕ", "varphi": "φ", "chi": "χ",
    "psi": "ψ", "omega": "ω", "iota": "ι", "upsilon": "υ", "vartheta": "ϑ", "varrho": "ϱ", "varsigma": "ς",
    "Delta": "Δ", "Gamma": "Γ", "Sigma": "Σ", "Omega": "Ω", "Pi": "Π", "Theta": "Θ", "Lambda": "Λ", "Xi": "Ξ",
    "Phi": "Φ", "Psi": "Ψ", "Upsilon": "Υ",
    "pm": "±", "mp": "∓", "times": "×", "cdot": "⋅", "leq": "≤", "le": "≤", "geq": "≥", "ge": "≥",
    "neq": "≠", "approx": "≈", "sim": "∼", "infty": "∞", "circ": "°", "degree": "°",
    "rightarrow": "→", "to": "→", "leftarrow": "←", "uparrow": "↑", "downarrow": "↓",
    "%": "%", "prime": "′", "ldots": "…", "cdots": "⋯", "lt": "<", "gt": ">", "ast": "*", "star": "⋆", "in": "∈", "notin": "∉",
    "subset": "⊂", "subseteq": "⊆", "cup": "∪", "cap": "∩", "equiv": "≡", "ll": "≪", "gg": "≫",
    "mid": "∣", "Rightarrow": "⇒", "Leftrightarrow": "⇔", "mapsto": "↦", "setminus": "∖", "div": "÷",
}
#: Binary operators and relations of TeX math, which texmath (pandoc) prints with a space each
#: side: ``n\times n`` reads ``n × n``; ``+`` and ``-`` (a minus sign) are unary after nothing,
#: an opening bracket or another operator (``-1`` reads ``−1``).
_MATH_SPACED = frozenset("+-=<>×⋅±∓≤≥≠≈∼→←∈∉⊂⊆∪∩≡≪≫⇒⇔↦∖÷∣")
_MATH_UNARY = frozenset("+-±∓")
#: Named operators of TeX math, printed as words.
_OPERATORS = frozenset({"log", "ln", "lg", "exp", "sin", "cos", "tan", "max", "min", "lim", "sup", "inf", "det",
                        "deg", "dim", "gcd", "arg", "ker", "Pr", "sec", "csc", "cot"})
_ACCENTS = set("`'^\"~=.") | {"u", "v", "H", "c", "d", "b", "r", "t", "k"}
_CMD = re.compile(r"\\([A-Za-z]+|.)")


class LatexError(ValueError):
    """Raised for LaTeX that cannot be decoded (for example unbalanced braces)."""


#: The combining mark of each accent command, for letters with no precomposed form (c̆).
_COMBINING = {"`": "\u0300", "'": "\u0301", "^": "\u0302", "~": "\u0303", "=": "\u0304", "u": "\u0306",
              ".": "\u0307", '"': "\u0308", "r": "\u030a", "H": "\u030b", "v": "\u030c", "d": "\u0323",
              "c": "\u0327", "k": "\u0328", "b": "\u0331", "t": "\u0361"}
_ACCENT_CHARS = {"^": "^", "~": "~", "`": "`", "'": "´", '"': "¨", "=": "¯", ".": "˙"}


def _accent(cmd: str, arg: str) -> str:
    """An accented letter (``\\'{e}`` is é, ``\\'\\i`` is í): the letter and the accent's combining
    mark, composed (NFC) where Unicode has the letter precomposed, which gives what latexcodec
    gives for every accent and letter. An accent over something that is not a letter keeps its
    own mark and the text (``\\^\\{2\\}`` reads ``^{2}``): never raw LaTeX."""
    base = arg.replace("\\i", "i").replace("\\j", "j")
    if len(base) != 1 or not base.isalpha():
        return _ACCENT_CHARS.get(cmd, "") + base
    return unicodedata.normalize("NFC", base + _COMBINING[cmd])


class _Parser:
    def __init__(self, src: str, depth: int = 0) -> None:
        self.s = src
        self.i = 0
        self.out: list[Span] = []
        self.depth = depth

    def emit(self, text: str, protected: bool, style: frozenset[str]) -> None:
        if not text:
            return
        if self.out and self.out[-1].protected == protected and self.out[-1].style == style and VAR not in style:
            last = self.out[-1]
            self.out[-1] = Span(last.text + text, protected, style)
        else:
            self.out.append(Span(text, protected, style))

    def group(self) -> str:
        """Read a balanced {...} group starting at self.i and return its inside."""
        depth, start = 0, self.i
        while self.i < len(self.s):
            c = self.s[self.i]
            if c == "\\":
                self.i += 2
                continue
            if c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
                if depth == 0:
                    self.i += 1
                    return self.s[start + 1 : self.i - 1]
            self.i += 1
        raise LatexError(f"unbalanced braces in {self.s!r}")

    def arg(self) -> str | None:
        """The next argument: a group's inside, one character, or a command's letter or symbol;
        None for a control word that is none of these (``\\'\\foo`` prints nothing, as pandoc)."""
        while self.i < len(self.s) and self.s[self.i] == " ":
            self.i += 1
        if self.i < len(self.s) and self.s[self.i] == "{":
            return self.group()
        if self.s.startswith("\\", self.i):  # a command as the argument: \\'\\i, \\^\\{
            m = _CMD.match(self.s, self.i)
            if m is None:
                self.i += 1
                return ""
            self.i = m.end()
            name = m.group(1)
            if name.isalpha() and self.i < len(self.s) and self.s[self.i] == " ":
                self.i += 1  # a control word eats the space after it: Sm\\'\\i d is Smíd
            if name in ("i", "j"):
                return "\\" + name
            return _SYMBOLS.get(name, None if name.isalpha() else name)
        if self.i < len(self.s):
            self.i += 1
            return self.s[self.i - 1]
        return ""

    def run(self, protected: bool = False, style: frozenset[str] = frozenset()) -> list[Span]:
        s = self.s
        if self.depth > MAX_DEPTH:  # braces or commands nested deeper: their text only (no recursion)
            self.emit(_stripped(s), protected, style)
            return self.out
        buf: list[str] = []

        def flush() -> None:
            self.emit("".join(buf), protected, style)
            buf.clear()

        while self.i < len(s):
            c = s[self.i]
            if c == "{":
                flush()
                inner = self.group()
                for span in _Parser(inner, self.depth + 1).run(True, style):
                    self.emit(span.text, True, span.style)
            elif c == "}":
                raise LatexError(f"unbalanced braces in {s!r}")
            elif c == "\\":
                m = _CMD.match(s, self.i)
                if m is None:
                    raise LatexError(f"a lone backslash ends {s!r}")
                name = m.group(1)
                self.i = m.end()
                if name in _ACCENTS:
                    argument = self.arg()
                    if argument is not None:
                        buf.append(_accent(name, argument))
                elif name in _STYLE_COMMANDS:
                    flush()
                    tag = _STYLE_COMMANDS[name]
                    if name in _DECLARATIONS:  # a declaration styles the rest of its group: {\\em text}
                        if self.i < len(s) and s[self.i] == " ":
                            self.i += 1
                        style = style | {tag} if tag else style
                        continue
                    inner = self.arg() or ""
                    new_style = style | {tag} if tag else style
                    for span in _Parser(inner, self.depth + 1).run(protected, new_style):
                        self.emit(span.text, span.protected, span.style)
                elif name in _QUOTING:
                    flush()
                    self.emit("“", protected, style)
                    for span in _Parser(self.arg() or "", self.depth + 1).run(True, style):  # pandoc keeps its case
                        self.emit(span.text, span.protected, span.style)
                    self.emit("”", protected, style)
                elif name in _SYMBOLS:
                    buf.append(_SYMBOLS[name])
                    if name.isalpha() and self.i < len(s) and s[self.i] == " ":
                        self.i += 1  # a control word eats the following space
                else:
                    # An unknown command: keep its argument, drop the command (and, for a control
                    # word, the space that ends it).
                    if self.i < len(s) and s[self.i] == "{":
                        buf.append(_Parser(self.arg() or "", self.depth + 1).plain())
                    elif name.isalpha() and self.i < len(s) and s[self.i] == " ":
                        self.i += 1
            elif c == "$":
                flush()
                end = self.i + 1
                while end < len(s) and s[end] != "$":
                    end += 2 if s[end] == "\\" else 1  # \$ inside math is a dollar sign
                if end >= len(s):
                    raise LatexError(f"unclosed $ in {s!r}")
                for span in _math(s[self.i + 1 : end], style):
                    self.emit(span.text, True, span.style)
                self.i = end + 1
            elif c == "~":
                buf.append("\u00a0")
                self.i += 1
            elif s.startswith("---", self.i):
                buf.append("—")
                self.i += 3
            elif s.startswith("--", self.i):
                buf.append("–")
                self.i += 2
            elif s.startswith("``", self.i):
                buf.append("“")
                self.i += 2
            elif s.startswith("''", self.i):
                buf.append("”")
                self.i += 2
            elif c == "`":  # pandoc reads LaTeX with smart quotes: `x' is ‘x’, an apostrophe ’
                buf.append("‘")
                self.i += 1
            elif c == "'":
                buf.append("’")
                self.i += 1
            else:
                buf.append(c)
                self.i += 1
        flush()
        return self.out

    def plain(self) -> str:
        return "".join(span.text for span in self.run())


def _math(src: str, style: frozenset[str]) -> list[Span]:
    """TeX math as texmath prints it in text: symbols in Unicode, operators and relations spaced,
    a comma followed by a space, ``^`` and ``_`` as superscript and subscript, variables in italics.
    (Math keeps its case: the caller marks every span it returns protected.)"""
    out: list[Span] = []

    def put(text: str) -> None:
        if text in _MATH_SPACED or text == ",":
            prev = "".join(sp.text for sp in out).rstrip()
            if text == ",":
                out.append(Span(", ", style=style))
                return
            shown = "\u2212" if text == "-" else text
            if src.strip().lstrip("\\").strip() in (text, *(k for k, v in _MATH.items() if v == text)):
                out.append(Span(shown, style=style))  # the operator alone: 3$\\times$3 reads 3×3
                return
            if text in _MATH_UNARY and (not prev or prev[-1] in "([{," or prev[-1] in _MATH_SPACED or prev[-1] == "\u2212"):
                out.append(Span(shown, style=style))
            else:
                out.append(Span(f" {shown} ", style=style))
            return
        # a variable (a letter) in italics, each on its own, as TeX sets it and texmath prints
        # it ($nm$ is <i>n</i><i>m</i>); digits and operators stay upright
        out.append(Span(text, style=style | {VAR} if len(text) == 1 and text.isalpha() else style))

    i = 0
    while i < len(src):
        c = src[i]
        if c == "\\":
            m = _CMD.match(src, i)
            if m is None:  # a lone backslash at the end: kept as it is
                out.append(Span("\\", style=style))
                i += 1
                continue
            name = m.group(1)
            if name in _OPERATORS:  # \log p: the operator, then a space (TeX's thin space)
                out.append(Span(name + " ", style=style))  # (the spaces after it are skipped as all are in math)
                i = m.end()
                continue
            i = m.end()
            if name == "sqrt":  # \sqrt{n}: √n, or √(n + 1) for more than one symbol
                inner = ""
                if i < len(src) and src[i] == "{":
                    depth, j = 0, i
                    while j < len(src):
                        depth += {"{": 1, "}": -1}.get(src[j], 0)
                        if depth == 0:
                            break
                        j += 1
                    inner, i = src[i + 1 : j], j + 1
                body = _math(inner, style)
                alone = len("".join(sp.text for sp in body)) <= 1
                out.append(Span("√" if alone else "√(", style=style))
                out.extend(body)  # its variables in italics, as everywhere in math
                if not alone:
                    out.append(Span(")", style=style))
                continue
            put(_MATH.get(name, name))
        elif c in "^_":
            tag = "sup" if c == "^" else "sub"
            i += 1
            while i < len(src) and src[i] == " ":
                i += 1
            if i < len(src) and src[i] == "{":
                depth, j = 0, i
                while j < len(src):
                    depth += {"{": 1, "}": -1}.get(src[j], 0)
                    if depth == 0:
                        break
                    j += 1
                inner, i = src[i + 1 : j], j + 1
            elif src.startswith("\\", i) and (m := _CMD.match(src, i)) is not None:  # n^\alpha
                inner, i = m.group(0), m.end()
            else:
                inner, i = src[i : i + 1], i + 1
            out.extend(Span(sp.text, style=sp.style | {tag}) for sp in _math(inner, style))
        elif c in "{}" or c.isspace():  # grouping, and spaces, which TeX ignores in math
            i += 1
        else:
            put(c)
            i += 1
    return out


_BRACE_OR_DOLLAR = re.compile(r"\\.|[{}$]")


def check(value: str) -> str | None:
    """Why ``value`` cannot be decoded (unbalanced braces, unclosed $), or None.

    A fast scan that agrees with :func:`parse` on what fails, for lint over a whole library.
    """
    if "{" not in value and "}" not in value and "$" not in value:
        return None
    depth, dollars = 0, 0
    for m in _BRACE_OR_DOLLAR.finditer(value):
        t = m.group(0)
        if t == "{":
            depth += 1
        elif t == "}":
            depth -= 1
            if depth < 0:
                return f"unbalanced braces in {value[:60]!r}"
        elif t == "$":
            dollars += 1
    if depth:
        return f"unbalanced braces in {value[:60]!r}"
    if dollars % 2:
        return f"unclosed $ in {value[:60]!r}"
    return None


_SPACE = re.compile(r"\s+")
#: What the parser treats specially; a value without any of it is one plain span.
_SPECIAL = re.compile(r"[{}\\$~'`]|--")


#: Braces or commands nested deeper than this are read as plain text (no Python recursion).
MAX_DEPTH = 40
_COMMAND_OR_BRACE = re.compile(r"\\([A-Za-z]+)\s*|\\(.)|[{}$]")


def _stripped(text: str) -> str:
    """The text of LaTeX with its commands, braces and math dollars taken out (an escaped
    special character is kept): what is shown of LaTeX nested too deeply to read."""
    return _COMMAND_OR_BRACE.sub(lambda m: m.group(2) if m.group(2) and m.group(2) in "&%$#_{} " else "", text)


def parse(value: str) -> list[Span]:
    """Parse a BibTeX field value. Never raises: LaTeX that cannot be decoded (unbalanced
    braces, a lone ``$``, a trailing backslash) is read leniently, and :func:`check`
    reports it as a lint."""
    value = _SPACE.sub(" ", value).strip()
    if not _SPECIAL.search(value):
        return [Span(value, False, frozenset())] if value else []
    try:
        return parse_strict(value)
    except LatexError:
        pass
    repaired = _repair(value)
    try:
        return _Parser(repaired).run()
    except (LatexError, RecursionError):
        return [Span(_stripped(repaired), False, frozenset())]  # math nested past Python's recursion


def parse_strict(value: str) -> list[Span]:
    """:func:`parse`, raising :class:`LatexError` on LaTeX that cannot be decoded."""
    value = _SPACE.sub(" ", value).strip()
    try:
        return _Parser(value).run()
    except RecursionError:
        raise LatexError("braces nested too deeply") from None


def _repair(value: str) -> str:
    """The value with unmatched braces dropped, a lone ``$`` and a trailing backslash escaped."""
    keep = [True] * len(value)
    opens: list[int] = []
    i = 0
    while i < len(value):
        c = value[i]
        if c == "\\":
            i += 2
            continue
        if c == "{":
            opens.append(i)
        elif c == "}":
            if opens:
                opens.pop()
            else:
                keep[i] = False
        i += 1
    for j in opens:
        keep[j] = False
    out = "".join(c for c, k in zip(value, keep) if k)
    if len(re.findall(r"(?<!\\)\$", out)) % 2:
        out = re.sub(r"(?<!\\)\$(?!.*(?<!\\)\$)", r"\\$", out)
    if re.search(r"(?<!\\)(?:\\\\)*\\$", out):
        out += " "
    return out


def to_text(spans: list[Span]) -> str:
    return "".join(span.text for span in spans)


def decode(value: str) -> str:
    """LaTeX field value to plain Unicode text."""
    return to_text(parse(value))


#: The styles a span can carry, outermost first, as pandoc nests them; a math variable (VAR)
#: is italic, and one element of its own.
VAR = "var"
NESTING = ("sup", "sub", "b", "i", VAR)


def styled(spans: Iterable[Span], mark: Callable[[Span], str], tags: Mapping[str, tuple[str, str]]) -> str:
    """Spans joined with their styles as properly nested marks: ``tags`` maps a style to its
    opening and closing mark; a style shared by neighbouring spans is one element across
    them (``<sup><i>O</i>(<i>g</i>)</sup>``), a math variable is always its own."""
    out: list[str] = []
    open_: list[str] = []
    for span in spans:
        want = [t for t in NESTING if t in span.style]
        keep = 0
        while keep < min(len(open_), len(want)) and open_[keep] == want[keep] and want[keep] != VAR:
            keep += 1
        out.extend(tags[t][1] for t in reversed(open_[keep:]))
        out.extend(tags[t][0] for t in want[keep:])
        open_ = want
        out.append(mark(span))
    out.extend(tags[t][1] for t in reversed(open_))
    return "".join(out)


_HTML_TAGS = {t: (f"<{t}>", f"</{t}>") for t in ("sup", "sub", "b", "i")} | {VAR: ("<i>", "</i>")}


def to_html(spans: list[Span]) -> str:
    """Render spans as HTML; all text is escaped."""
    return styled(spans, lambda sp: html.escape(sp.text, quote=False), _HTML_TAGS)


def sentence_case(spans: list[Span]) -> list[Span]:
    """Pandoc's conversion of an English BibTeX title to sentence case (its citeproc's
    algorithm, :mod:`evidencekb.textcase`): capitalized words are lower-cased unless in
    braces; words with inner capitals (``McDonald``, ``ITBS``) are kept; the first word, and
    the first after ``:``, ``?``, ``!`` or ``.``, get a capital."""
    from .textcase import sentence, transform_parts

    texts = transform_parts([(sp.text, sp.protected) for sp in spans], sentence)
    return [sp._replace(text=t) for sp, t in zip(spans, texts)]
