"""Markdown for forum posts: safe HTML for display, plain text for search indexing and previews.

Posts are written by anyone in a neighbourhood, so the HTML is built in two independent layers:
markdown-it never passes raw HTML through and refuses unsafe link targets, and nh3 then sanitises
its output against a short allow-list, so that a bug or a new feature in one layer is caught by the other.
"""

from __future__ import annotations

import html
import logging
import re
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import nh3
from linkify_it import LinkifyIt
from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.rules_core import StateCore
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict

log = logging.getLogger(__name__)

MAX_BODY_CHARS = 10_000

# Each nesting level costs parse time and renderer depth; 20 is far beyond what a real post quotes,
# and content deeper than this is dropped rather than parsed.
_MAX_NESTING = 20

_ALLOWED_TAGS = frozenset(
    {
        "p", "br", "strong", "em", "del", "s", "code", "pre", "blockquote", "ul", "ol", "li", "a",
        "h3", "h4", "hr", "table", "thead", "tbody", "tr", "th", "td",
    }
)  # fmt: skip
# "*" must be given explicitly: without it ammonia keeps its default generic attributes (title, lang).
_ALLOWED_ATTRIBUTES: dict[str, set[str]] = {"a": {"href"}, "*": set()}
# Classes are allowed separately (ammonia refuses "class" in both): only the mention mark on links.
_ALLOWED_CLASSES: dict[str, set[str]] = {"a": {"mention"}}
_URL_SCHEMES = frozenset({"http", "https", "mailto"})
# ugc/nofollow: links are written by residents, not vouched for by the site;
# noopener/noreferrer: a linked page must not script this tab nor learn which thread linked it.
_LINK_REL = "nofollow ugc noopener noreferrer"

_SCHEME_RE = re.compile(r"([a-z][a-z0-9+.\-]*):", re.IGNORECASE)
# The WHATWG URL parser ignores leading C0 controls and spaces, and tabs and newlines anywhere,
# so "\x01java\tscript:" still runs as javascript: in a browser.
_URL_LEADING_IGNORED = "".join(chr(c) for c in range(0x21))
_URL_TAB_OR_NEWLINE = re.compile(r"[\t\n\r]")
_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")
_ZWJ = "\u200d"

# East Asian wide and full-width characters: CJK ideographs and punctuation, kana, hangul, full-width forms.
_WIDE = re.compile(
    "[\u1100-\u115f\u2e80-\u303e\u3041-\u33ff\u3400-\u4dbf\u4e00-\u9fff\ua000-\ua4cf\uac00-\ud7a3"
    "\uf900-\ufaff\ufe10-\ufe19\ufe30-\ufe6f\uff00-\uff60\uffe0-\uffe6\U00020000-\U0003fffd]"
)


class _NarrowLinkify(LinkifyIt):
    """Bare URLs end at the first wide character and may start right after one.

    Chinese has no spaces, so a bare URL usually touches the text around it ("见https://a.cn，谢谢");
    linkify-it would take the full-width comma and the words after it into the URL, and would not
    see "访问example.com吧" at all. Raw wide characters inside a bare URL are far rarer (pasted URLs
    come percent-encoded); <https://…/北京> or [北京](https://…/北京) still link those.
    """

    def pretest(self, text: str) -> bool:
        return any(LinkifyIt.pretest(self, run) for run in _narrow_runs(text))

    def test(self, text: str) -> bool:
        return any(LinkifyIt.test(self, run) for run in _narrow_runs(text))

    def match(self, text: str) -> list[Any] | None:
        found = []
        for run, offset in _narrow_runs_at(text):
            for match in super().match(run) or []:
                match.index += offset
                match.last_index += offset
                found.append(match)
        return found or None

    def match_at_start(self, text: str) -> Any:
        wide = _WIDE.search(text)
        return super().match_at_start(text if wide is None else text[: wide.start()])


def _narrow_runs_at(text: str) -> Iterator[tuple[str, int]]:
    offset = 0
    for wide in _WIDE.finditer(text):
        if wide.start() > offset:
            yield text[offset : wide.start()], offset
        offset = wide.end()
    if offset < len(text):
        yield text[offset:], offset


def _narrow_runs(text: str) -> Iterator[str]:
    return (run for run, _ in _narrow_runs_at(text))


class _PostMarkdown(MarkdownIt):
    """markdown-it with link targets limited to the schemes the sanitiser keeps, and CJK-aware linkify."""

    def __init__(self, config: str, options_update: Mapping[str, Any]) -> None:
        super().__init__(config, options_update)
        self.linkify = _NarrowLinkify()

    def validateLink(self, url: str) -> bool:
        # markdown-it's own check is a deny-list (javascript:, vbscript:, file:, most data:); an
        # allow-list also covers schemes nobody has thought of yet. Relative URLs stay allowed so
        # that residents can link to other threads on this forum.
        candidate = _URL_TAB_OR_NEWLINE.sub("", url).lstrip(_URL_LEADING_IGNORED)
        scheme = _SCHEME_RE.match(candidate)
        return scheme is None or scheme.group(1).lower() in _URL_SCHEMES


def _demote_headings(state: StateCore) -> None:
    # The page already has its h1 (site) and h2 (thread title); a post must not outrank them.
    for token in state.tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = "h3" if token.tag in ("h1", "h2") else "h4"


def _render_image(self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
    # Pictures reach a post only through the upload path, which checks type and size and strips
    # metadata; an <img> to an arbitrary URL would also tell a third party who reads the thread.
    token = tokens[idx]
    alt = self.renderInlineAsText(token.children or [], options, env).strip()
    src = token.attrGet("src")
    href = src if isinstance(src, str) else ""
    if _inside_link(tokens, idx) or not href:
        return html.escape(alt)
    return f'<a href="{html.escape(href)}">{html.escape(alt or href)}</a>'


def _inside_link(tokens: Sequence[Token], idx: int) -> bool:
    # A link inside a link is invalid HTML; `[![alt](img)](url)` keeps the outer link and shows the alt text.
    depth = 0
    for token in tokens[:idx]:
        if token.type == "link_open":
            depth += 1
        elif token.type == "link_close":
            depth -= 1
    return depth > 0


# "@name" where name could be a username (see forum.validation.USERNAME_RE), not inside an e-mail address or a
# longer word: "谢谢@zhang_wei的帮助" mentions zhang_wei, "li@example.com" mentions nobody.
MENTION_RE = re.compile(r"(?<![A-Za-z0-9_.@/-])@([A-Za-z0-9][A-Za-z0-9_.-]{2,31})")
MAX_MENTIONS = 20


def mentioned_usernames(text: str) -> list[str]:
    """The usernames a post's text mentions, lower-cased, in order, at most MAX_MENTIONS. A sentence's full stop
    after a name ("谢谢 @li_na.") is not part of it. Whether they exist is for the caller to find out."""
    found: list[str] = []
    for match in MENTION_RE.finditer(text):
        name = match.group(1).rstrip(".-").lower()
        if len(name) >= 3 and name not in found:
            found.append(name)
            if len(found) == MAX_MENTIONS:
                break
    return found


def _link_mentions(state: StateCore) -> None:
    # Only names the caller found among the community's members become links, and never inside a link or code
    # (code spans are their own tokens; text inside links is skipped by depth).
    known: frozenset[str] = state.env.get("mentions") or frozenset()
    if not known:
        return
    for block in state.tokens:
        if block.type != "inline" or not block.children:
            continue
        children: list[Token] = []
        depth = 0
        for token in block.children:
            if token.type == "link_open":
                depth += 1
            elif token.type == "link_close":
                depth -= 1
            if token.type != "text" or depth > 0 or "@" not in token.content:
                children.append(token)
                continue
            children.extend(_split_mentions(token, known))
        block.children = children


def _split_mentions(token: Token, known: frozenset[str]) -> list[Token]:
    parts: list[Token] = []
    text = token.content
    position = 0
    for match in MENTION_RE.finditer(text):
        name = match.group(1).rstrip(".-")
        if name.lower() not in known:
            continue
        start, end = match.start(), match.start() + 1 + len(name)
        if start > position:
            parts.append(_text_token(text[position:start], token.level))
        link = Token("link_open", "a", 1, level=token.level)
        link.attrs = {"href": f"/u/{name.lower()}", "class": "mention"}
        parts += [link, _text_token(f"@{name}", token.level + 1), Token("link_close", "a", -1, level=token.level)]
        position = end
    if not parts:
        return [token]
    if position < len(text):
        parts.append(_text_token(text[position:], token.level))
    return parts


def _text_token(content: str, level: int) -> Token:
    token = Token("text", "", 0, level=level)
    token.content = content
    return token


def escape_label(text: str) -> str:
    """Text to put inside a Markdown link's [label] as it is: brackets, emphasis and other markup characters are
    backslash-escaped, line breaks become spaces."""
    flat = " ".join(text.split())
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|<>~])", r"\\\1", flat)


def quote_markdown(body: str, *, username: str, label: str, url: str, limit: int = 400) -> str:
    """The Markdown a reply starts with when it quotes a post: who said it, a link to it, and its text as a block
    quote. Quotes inside the quoted post are left out (a reply quotes what was said, not the whole chain), and
    a long post is cut to about `limit` characters at a line or word boundary."""
    lines = [line for line in body.replace("\r\n", "\n").split("\n") if not line.lstrip().startswith(">")]
    text = "\n".join(lines).strip()
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    if len(text) > limit:
        cut = max(text.rfind("\n", 0, limit), text.rfind(" ", 0, limit))
        text = text[: cut if cut > limit // 2 else limit].rstrip() + " …"
    quoted = "\n".join(f"> {line}" if line else ">" for line in text.split("\n"))
    return f"> @{username} [{label}]({url}):\n{quoted}\n\n"


def _build_markdown() -> MarkdownIt:
    md = _PostMarkdown(
        "commonmark",
        {
            "html": False,
            "linkify": True,
            # Residents type on phones: a newline they typed is a line break they meant.
            "breaks": True,
            "maxNesting": _MAX_NESTING,
        },
    )
    md.enable(["table", "strikethrough", "linkify"])
    md.core.ruler.push("demote_headings", _demote_headings)
    md.core.ruler.push("link_mentions", _link_mentions)
    md.add_render_rule("image", _render_image)
    return md


_md = _build_markdown()


def _sanitise(html_text: str) -> str:
    # nh3.clean rather than a reusable nh3.Cleaner: Cleaner only exists from nh3 0.3, and building
    # the sanitiser costs microseconds next to parsing the Markdown.
    return nh3.clean(
        html_text,
        tags=_ALLOWED_TAGS,
        attributes=_ALLOWED_ATTRIBUTES,
        url_schemes=_URL_SCHEMES,
        link_rel=_LINK_REL,
        allowed_classes=_ALLOWED_CLASSES,
        strip_comments=True,
    )


def _scrub(text: str) -> str:
    # Lone surrogates can arrive from JSON ("\ud800") and cannot cross into nh3's Rust (UTF-8 only);
    # NUL is replaced by CommonMark anyway, but the fallback paths below skip markdown-it.
    return _LONE_SURROGATE.sub("\ufffd", text).replace("\x00", "\ufffd")


def render_markdown(text: str, mentions: frozenset[str] = frozenset()) -> str:
    """Render a post body written in Markdown to sanitised HTML, safe to insert into a page unescaped.

    CommonMark with tables, strikethrough and bare URLs made into links. Raw HTML in the input is shown
    as text. Headings are demoted to h3/h4, images become links to their URL, and every link gets
    ``rel="nofollow ugc noopener noreferrer"``; only http, https, mailto and relative link targets survive.

    Never raises: a body that cannot be rendered (a bug, not an expected case) is shown as escaped text.
    `mentions` are lower-cased usernames known to exist where the post is shown: "@name" for one of them
    becomes a link to their profile, other "@words" stay text.

    Length is not checked here; bodies are limited to `MAX_BODY_CHARS` where they are accepted.
    """
    text = _scrub(text)
    try:
        return _sanitise(_md.render(text, {"mentions": mentions}))
    except Exception:
        # One unrenderable post must not take down the whole thread page it is shown on.
        log.exception("markdown rendering failed; showing the post as plain text")
        return "<p>" + html.escape(text).replace("\n", "<br>\n") + "</p>"


def _inline_text(children: Sequence[Token]) -> Iterator[str]:
    for child in children:
        if child.type in ("text", "code_inline"):
            yield child.content
        elif child.type in ("softbreak", "hardbreak"):
            yield " "
        elif child.type == "image":
            # The alt text is what the picture says; children hold it as inline tokens.
            yield from _inline_text(child.children or [])


def plain_text(text: str) -> str:
    """Return the post's text without Markdown markup, whitespace collapsed to single spaces.

    For search indexing and previews. The result is plain text, not HTML: escape it when showing it.
    Link targets and image URLs are left out; link text, image alt text and code are kept.
    """
    text = _scrub(text)
    try:
        tokens = _md.parse(text)
    except Exception:
        log.exception("markdown parsing failed; indexing the post as typed")
        return " ".join(text.split())
    parts: list[str] = []
    for token in tokens:
        if token.type == "inline":
            parts.extend(_inline_text(token.children or []))
        elif token.type in ("fence", "code_block"):
            parts.append(token.content)
        # Block boundaries (paragraphs, list items, table cells) separate words.
        parts.append(" ")
    return " ".join("".join(parts).split())


def _joins_previous(ch: str) -> bool:
    # Characters that belong to the grapheme before them: combining marks, variation selectors,
    # emoji skin tones and ZWJ sequences. Cutting before one would leave half a letter or emoji.
    return (
        unicodedata.category(ch) in ("Mn", "Mc", "Me")
        or ch == _ZWJ
        or "\ufe00" <= ch <= "\ufe0f"
        or "\U0001f3fb" <= ch <= "\U0001f3ff"
    )


def _is_word_char(ch: str) -> bool:
    # Chinese and Japanese have no spaces between words, so any character boundary will do there.
    return (ch.isalnum() or unicodedata.category(ch).startswith("M")) and _WIDE.match(ch) is None


def excerpt(text: str, length: int = 120) -> str:
    """Return `plain_text` of the post, at most `length` characters, ending in "…" if it was cut.

    The cut never splits a letter from its combining marks or an emoji sequence, and in
    space-separated languages it falls between words unless that would lose too much.
    """
    if length < 1:
        raise ValueError("excerpt length must be at least 1")
    flat = plain_text(text)
    if len(flat) <= length:
        return flat
    cut = length - 1  # room for the ellipsis
    while cut > 0 and (_joins_previous(flat[cut]) or flat[cut - 1] == _ZWJ):
        cut -= 1
    if cut > 0 and _is_word_char(flat[cut - 1]) and _is_word_char(flat[cut]):
        space = flat.rfind(" ", 0, cut)
        # A word longer than half the excerpt (a URL, say) is cut through rather than dropped.
        if space > cut // 2:
            cut = space
    return flat[:cut].rstrip() + "…"
