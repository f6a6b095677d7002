"""Record text as safe HTML: CommonMark with raw HTML off, no images, safe links only.

Raw HTML in a record is shown as text (escaped), so `<script>` in a record runs nothing. Images
are not rendered (they would load from outside); links keep their text and open nothing by
themselves. Code blocks and inline code are kept verbatim.
"""

from __future__ import annotations

from functools import lru_cache

from markdown_it import MarkdownIt


@lru_cache(maxsize=1)
def _md() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.disable(["image"])

    def link_open(renderer, tokens, idx, options, env):  # markdown-it passes the renderer first
        tokens[idx].attrSet("rel", "noopener noreferrer nofollow")
        tokens[idx].attrSet("target", "_blank")
        return renderer.renderToken(tokens, idx, options, env)

    md.add_render_rule("link_open", link_open)
    return md


def render_markdown(text: str) -> str:
    return _md().render(text)
