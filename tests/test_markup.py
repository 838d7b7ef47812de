"""Markdown in forum posts: what residents can format, and what they cannot smuggle into the page."""

from __future__ import annotations

import logging
import random
import re
import time
from collections.abc import Callable
from html.parser import HTMLParser

import pytest

from forum import markup
from forum.markup import MAX_BODY_CHARS, excerpt, plain_text, render_markdown

REL = "nofollow ugc noopener noreferrer"


class Elements(HTMLParser):
    """Every start tag with its attributes, in document order."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def names(self) -> set[str]:
        return {tag for tag, _ in self.tags}

    def links(self) -> list[dict[str, str | None]]:
        return [attrs for tag, attrs in self.tags if tag == "a"]


def runs_script(href: str) -> bool:
    """Whether a browser would treat href as a script or data URL (it ignores leading controls, tabs, newlines)."""
    cleaned = re.sub(r"[\t\n\r]", "", href).lstrip("".join(chr(c) for c in range(0x21))).lower()
    return cleaned.startswith(("javascript:", "vbscript:", "data:"))


def test_basic_formatting_becomes_strong_em_strikethrough_and_code() -> None:
    html = render_markdown("**bold** and *italic*, ~~gone~~ and `x < y`")
    assert "<strong>bold</strong>" in html
    assert "<em>italic</em>" in html
    assert "<s>gone</s>" in html
    assert "<code>x &lt; y</code>" in html


def test_quotes_lists_rules_and_code_blocks_render() -> None:
    html = render_markdown("> quoted\n\n- one\n- two\n\n1. first\n\n---\n\n```python\nprint('<hi>')\n```")
    assert Elements(html).names() == {"blockquote", "p", "ul", "ol", "li", "hr", "pre", "code"}
    assert "print(&#x27;&lt;hi&gt;&#x27;)" in html or "print('&lt;hi&gt;')" in html


def test_chinese_text_and_full_width_punctuation_pass_through_untouched() -> None:
    text = "今晚七点在小区广场开会：讨论停车位、垃圾分类（新规）！大家准时到～「请转告」"
    assert render_markdown(text) == f"<p>{text}</p>\n"
    assert "<strong>重要通知</strong>，请看。" in render_markdown("**重要通知**，请看。")


def test_a_newline_in_a_post_is_a_line_break() -> None:
    html = render_markdown("第一行\n第二行")
    assert re.fullmatch(r"<p>第一行<br\s*/?>\n第二行</p>\n", html)


def test_a_blank_line_starts_a_new_paragraph() -> None:
    assert Elements(render_markdown("one\n\ntwo")).tags == [("p", {}), ("p", {})]


def test_links_get_rel_nofollow_ugc_noopener_noreferrer() -> None:
    html = render_markdown('[the council](https://example.org/council "title") and https://example.org/bare')
    links = Elements(html).links()
    assert links == [
        {"href": "https://example.org/council", "rel": REL},
        {"href": "https://example.org/bare", "rel": REL},
    ]


def test_relative_and_mailto_links_are_kept() -> None:
    links = Elements(render_markdown("[thread](/t/42) or [write](mailto:office@example.org)")).links()
    assert [link["href"] for link in links] == ["/t/42", "mailto:office@example.org"]


def test_a_bare_url_in_chinese_text_stops_at_the_first_chinese_character() -> None:
    html = render_markdown("见https://example.org/a，还有example.com吧。邮箱：office@example.org。")
    assert [link["href"] for link in Elements(html).links()] == [
        "https://example.org/a",
        "http://example.com",
        "mailto:office@example.org",
    ]
    assert "，还有" in html
    assert "吧。邮箱：" in html


def test_a_pasted_percent_encoded_url_stays_one_link() -> None:
    html = render_markdown("https://zh.wikipedia.org/wiki/%E5%8C%97%E4%BA%AC，看看")
    assert Elements(html).links() == [{"href": "https://zh.wikipedia.org/wiki/%E5%8C%97%E4%BA%AC", "rel": REL}]
    assert html.endswith("，看看</p>\n")


@pytest.mark.parametrize(
    "text",
    [
        "[x](javascript:alert(1))",
        "[x](JaVaScRiPt:alert(1))",
        "[x](&#106;avascript:alert(1))",
        "[x](&#x6A;&#x61;vascript:alert(1))",
        "[x](javascript&#58;alert(1))",
        "[x](javascript&colon;alert(1))",
        "[x](<java\tscript:alert(1)>)",
        "[x](< javascript:alert(1)>)",
        "[x](&#9;javascript:alert(1))",
        "[x](<\x01javascript:alert(1)>)",
        "[x](%6Aavascript:alert(1))",
        "<javascript:alert(1)>",
        "[x][ref]\n\n[ref]: javascript:alert(1)",
        "[x](vbscript:msgbox(1))",
        "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
        "![x](data:image/svg+xml;base64,PHN2Zy8+)",
        "![x](data:image/png;base64,iVBORw0KGgo=)",
        "[x](file:///etc/passwd)",
    ],
)
def test_script_and_data_links_leave_no_href(text: str) -> None:
    html = render_markdown(text)
    hrefs = [link.get("href") or "" for link in Elements(html).links()]
    assert not any(runs_script(href) for href in hrefs), html
    assert "file:" not in "".join(hrefs)


@pytest.mark.parametrize(
    "text",
    [
        "<script>alert(1)</script>",
        '<img src="x" onerror="alert(1)">',
        '<iframe src="https://example.org/"></iframe>',
        '<a href="javascript:alert(1)">x</a>',
        "<style>body{display:none}</style>",
        "<!-- hidden -->",
        "<div>\n\n<script>alert(1)</script>\n\n</div>",
        '**<span style="color:red">x</span>**',
    ],
)
def test_raw_html_in_a_post_is_shown_as_text(text: str) -> None:
    html = render_markdown(text)
    tags = Elements(html).names()
    assert tags <= {"p", "strong", "a"}
    assert not any("on" in name or name == "style" for _, attrs in Elements(html).tags for name in attrs)
    assert "&lt;" in html
    assert not any(runs_script(link.get("href") or "") for link in Elements(html).links())


def test_markdown_images_become_a_link_to_the_picture_not_an_img() -> None:
    html = render_markdown("![门口的猫](https://example.org/cat.png)")
    assert "<img" not in html
    assert Elements(html).links() == [{"href": "https://example.org/cat.png", "rel": REL}]
    assert ">门口的猫</a>" in html


def test_an_image_without_alt_text_shows_its_address() -> None:
    html = render_markdown("![](https://example.org/cat.png)")
    assert "<img" not in html
    assert ">https://example.org/cat.png</a>" in html


def test_an_image_inside_a_link_shows_its_alt_text_in_that_link() -> None:
    html = render_markdown("[![<猫>](https://example.org/cat.png)](https://example.org/cats)")
    assert "<img" not in html
    assert Elements(html).links() == [{"href": "https://example.org/cats", "rel": REL}]
    assert ">&lt;猫&gt;</a>" in html


def test_headings_are_demoted_below_the_page_headings() -> None:
    html = render_markdown("# One\n## Two\n### Three\n#### Four\n###### Six\n\nSetext\n======\n\nSub\n---")
    assert [tag for tag, _ in Elements(html).tags] == ["h3", "h3", "h4", "h4", "h4", "h3", "h3"]
    assert "<h3>One</h3>" in html
    assert "<h4>Six</h4>" in html


def test_tables_render_without_alignment_styles() -> None:
    html = render_markdown("| 楼号 | 户数 |\n|:---|---:|\n| 1号楼 | 48 |\n| 2号楼 | 36 |")
    assert [tag for tag, _ in Elements(html).tags] == ["table", "thead", "tr", "th", "th", "tbody"] + [
        "tr",
        "td",
        "td",
    ] * 2
    assert all(attrs == {} for _, attrs in Elements(html).tags)
    assert "<td>1号楼</td>" in html


def test_only_allowed_tags_and_attributes_come_out() -> None:
    text = '```js\ncode\n```\n\n[x](https://example.org "t")\n\n- [ ] task\n\n1) one\n\n7. seven'
    for tag, attrs in Elements(render_markdown(text)).tags:
        assert tag in markup._ALLOWED_TAGS
        assert set(attrs) <= ({"href", "rel"} if tag == "a" else set())


def fastest_of(work: Callable[[], object], within: float, tries: int = 3) -> float:
    """The shortest of up to `tries` timed runs of `work`, in seconds of this thread's CPU time, stopping at
    the first within the bound.

    CPU time, not the clock: with other test workers and other engineers' suites on the same two cores, a
    render that took 0.2 s of CPU took over a second by the clock. A single run can still stall (a full garbage
    collection late in the session); a slow algorithm is slow every time.
    """
    best = float("inf")
    for _ in range(tries):
        started = time.thread_time()
        work()
        best = min(best, time.thread_time() - started)
        if best < within:
            break
    return best


@pytest.mark.parametrize(
    "text",
    [
        ">" * 5000,
        "> " * 5000,
        "- " * 5000,
        "".join("  " * depth + "- item\n" for depth in range(1000)),
        "> - 1. " * 1400,
        "*" * 5000,
        "[" * 5000 + "]" * 5000,
        "**a" * 3000,
    ],
    ids=["quote-run", "quote-spaced", "list-run", "indented-list", "mixed", "stars", "brackets", "emphasis"],
)
def test_deeply_nested_input_renders_quickly(text: str) -> None:
    def render() -> None:
        assert isinstance(render_markdown(text), str)
        plain_text(text)

    # Typically under 0.2 s; a quadratic blow-up takes many seconds.
    assert fastest_of(render, within=1.0) < 1.0


@pytest.mark.parametrize(
    "unit",
    ["![", "[", "[a](", "<a", "*a", "`a``", "http://", "中a.", "a@b.co ", "a\n", "|a"],
)
def test_pathological_bodies_of_the_maximum_length_render_in_reasonable_time(unit: str) -> None:
    text = unit * (MAX_BODY_CHARS // len(unit))
    # Typically well under half a second; the margin is for a busy CI machine.
    assert fastest_of(lambda: render_markdown(text), within=2.0) < 2.0


def test_render_never_raises_on_garbage() -> None:
    rng = random.Random(20240601)  # noqa: S311 - a fixed seed keeps failures reproducible
    alphabet = "*_`~[]()<>!#|>-+=\\&;:/.@ \n\t\r\x01\x0b\x1f\x7f\u200b\u202e\ufeff\ud800\udfff中文，。a1"
    for _ in range(200):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 400)))
        html = render_markdown(text)
        assert "<img" not in html
        assert "<script" not in html
        plain_text(text)
        excerpt(text, 20)
    binaryish = bytes(rng.randrange(1, 256) for _ in range(4000)).decode("latin-1")
    assert isinstance(render_markdown(binaryish), str)


def test_nul_and_lone_surrogates_are_replaced_not_fatal() -> None:
    assert render_markdown("a\x00b\ud800c") == "<p>a\ufffdb\ufffdc</p>\n"
    assert plain_text("a\x00b\udfffc") == "a\ufffdb\ufffdc"


def test_a_rendering_bug_shows_the_post_as_escaped_text(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(text: str) -> str:
        raise RuntimeError("bug")

    monkeypatch.setattr(markup._md, "render", broken)
    with caplog.at_level(logging.ERROR, logger="forum.markup"):
        html = render_markdown("<b>hi</b>\nthere")
    assert html == "<p>&lt;b&gt;hi&lt;/b&gt;<br>\nthere</p>"
    assert "markdown rendering failed" in caplog.text


def test_plain_text_drops_markup_and_collapses_whitespace() -> None:
    text = (
        "# 通知\n\n**明天** 停水，  详见 [公告](https://example.org/n) ![水管图](https://example.org/p.png)\n\n"
        "- 一\n- 二\n\n```\nx = 1\n```\n\n| a | b |\n|---|---|\n| c | d |"
    )
    assert plain_text(text) == "通知 明天 停水， 详见 公告 水管图 一 二 x = 1 a b c d"


def test_plain_text_keeps_raw_html_as_the_text_that_was_typed() -> None:
    assert plain_text("<b>hi</b> &amp; `<i>`") == "<b>hi</b> & <i>"


def test_plain_text_of_an_empty_or_blank_post_is_empty() -> None:
    assert plain_text("") == ""
    assert plain_text(" \n\t\n ") == ""


def test_excerpt_of_a_short_post_is_its_plain_text() -> None:
    assert excerpt("**短**帖子") == "短帖子"
    assert excerpt("x" * 120) == "x" * 120


def test_excerpt_cuts_chinese_in_the_middle_with_an_ellipsis() -> None:
    text = "本周六上午九点，小区物业将在三号楼前组织垃圾分类宣传活动，欢迎居民参加。"
    assert excerpt(text, 10) == "本周六上午九点，小…"
    assert len(excerpt(text, 10)) == 10


def test_excerpt_cuts_english_between_words() -> None:
    assert excerpt("The quick brown fox jumps over the lazy dog", 17) == "The quick brown…"


def test_excerpt_cuts_through_a_word_longer_than_half_the_excerpt() -> None:
    assert excerpt("see " + "a" * 50, 20) == "see " + "a" * 15 + "…"


def test_excerpt_never_splits_an_accent_or_an_emoji_sequence() -> None:
    assert excerpt("cafe\u0301 au lait", 6) == "cafe\u0301…"
    assert excerpt("cafe\u0301 au lait", 5) == "caf…"
    assert excerpt("好👍🏽👍🏽", 3) == "好…"
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
    assert excerpt("a" + family + "b", 4) == "a…"


def test_excerpt_is_at_most_the_requested_length() -> None:
    rng = random.Random(7)  # noqa: S311 - a fixed seed keeps failures reproducible
    words = ["邻里", "neighbour", "停车", "a", "🙂", "e\u0301", "  ", "**x**"]
    for _ in range(200):
        text = " ".join(rng.choice(words) for _ in range(rng.randrange(0, 60)))
        length = rng.randrange(1, 40)
        assert len(excerpt(text, length)) <= length


def test_excerpt_length_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        excerpt("text", 0)
