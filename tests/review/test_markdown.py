"""Record text rendered for the page: escaped, no images fetched, no script links, code kept."""

from __future__ import annotations

import pytest

pytest.importorskip("markdown_it")

from pipeline.review.markdown import render_markdown  # noqa: E402


def test_raw_html_is_text_and_code_is_kept():
    html = render_markdown('<img src=x onerror="alert(1)"> <script>alert(2)</script>\n\n```py\nif a < b:\n    pass\n```')
    assert "<img" not in html and "<script" not in html
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in html
    assert '<pre><code class="language-py">if a &lt; b:\n    pass\n</code></pre>' in html


def test_images_are_not_rendered_and_script_links_are_not_links():
    html = render_markdown("![pixel](http://tracker.example/p.png) [click](javascript:alert(1)) [ok](https://example.org)")
    assert "<img" not in html and "tracker.example" in html  # shown as text, never fetched
    assert 'href="javascript' not in html
    assert '<a href="https://example.org" rel="noopener noreferrer nofollow" target="_blank">ok</a>' in html
