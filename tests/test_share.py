"""Share links, the iframe snippet and the static fallback: correct URLs, everything escaped."""

from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import pytest

from epochsteps import Setup, controls, make_plan, share, urlstate

HOSTILE = '"><script>alert(1)</script>'


class Tags(HTMLParser):
    def __init__(self, text):
        super().__init__()
        self.tags = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def test_share_link_round_trips_through_the_url_parser():
    values = {**controls.DEFAULTS, "dataset_size": 1_281_167, "batch_size": 256, "epochs": 90, "drop_last": True}
    url = share.share_url("https://epochs.example.org/app/?old=1#frag", urlstate.to_query(values))
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path, parts.fragment) == ("https", "epochs.example.org", "/app/", "")
    back, notices = urlstate.parse_query(parse_qs(parts.query))
    assert notices == [] and back == values
    assert "old" not in parse_qs(parts.query)


def test_embed_url_adds_streamlit_switches_once():
    url = share.embed_url(
        "http://localhost:8501",
        {"batch_size": "64", "embed": "false", "embed_options": "x"},
        ["light_theme", "show_toolbar", "light_theme"],
    )
    q = parse_qs(urlsplit(url).query)
    assert q == {"batch_size": ["64"], "embed": ["true"], "embed_options": ["light_theme", "show_toolbar"]}
    default = parse_qs(urlsplit(share.embed_url("http://localhost:8501", {})).query)
    assert default["embed_options"] == list(share.DEFAULT_EMBED_OPTIONS)


def test_embed_options_are_checked():
    with pytest.raises(share.ShareError, match="unknown embed option"):
        share.embed_url("https://a.example", {}, ["show_everything"])
    with pytest.raises(share.ShareError, match="not both"):
        share.embed_url("https://a.example", {}, ["light_theme", "dark_theme"])


@pytest.mark.parametrize(
    "base", ["javascript:alert(1)", "data:text/html,hi", "https://", "not a url", "ftp://x.example/", "http://[::1"]
)
def test_only_http_base_urls(base):
    with pytest.raises(share.ShareError):
        share.share_url(base, {})


def test_credentials_in_the_base_url_are_dropped():
    assert share.share_url("https://user:secret@x.example:8443/p", {}) == "https://x.example:8443/p"


def test_values_are_percent_encoded():
    url = share.share_url("https://x.example/", {"metrics_text": "0.9, 0.8 & <b>", "hide": "epochs,devices"})
    assert "<" not in url and " " not in url and url.split("?", 1)[1].count("&") == 1  # only between the two
    assert "hide=epochs,devices" in url  # commas stay readable
    assert parse_qs(urlsplit(url).query)["metrics_text"] == ["0.9, 0.8 & <b>"]


def test_too_long_link_is_refused():
    with pytest.raises(share.ShareError, match="characters"):
        share.share_url("https://x.example/", {"metrics_text": "0.5," * 5000})


def test_iframe_snippet_escapes_a_hostile_url_and_title():
    url = share.embed_url("https://x.example/" + HOSTILE, {"metrics_text": HOSTILE})
    snippet = share.iframe_snippet(url, title=HOSTILE, height=700)
    assert "<script" not in snippet
    tags = Tags(snippet).tags
    assert [t for t, _ in tags] == ["iframe"]
    attrs = tags[0][1]
    assert attrs["src"] == url and attrs["title"] == HOSTILE and attrs["height"] == "700"
    assert parse_qs(urlsplit(attrs["src"]).query)["embed"] == ["true"]


def test_iframe_refuses_non_http():
    with pytest.raises(share.ShareError):
        share.iframe_snippet("javascript:alert(1)")


def test_recommended_height_grows_with_content_within_bounds():
    small, full = share.recommended_height(controls=2, charts=1), share.recommended_height(controls=8, charts=3)
    assert share.MIN_HEIGHT <= small < full <= share.MAX_HEIGHT
    assert share.recommended_height(controls=100, charts=100) == share.MAX_HEIGHT
    assert share.recommended_height(controls=0, charts=0) == share.MIN_HEIGHT
    assert f'height="{share.recommended_height()}"' in share.iframe_snippet("https://x.example/")


def test_image_fallback_has_alt_text_with_the_core_numbers():
    plan = make_plan(Setup(dataset_size=10_000, batch_size=100, epochs=10))
    alt = share.alt_text(plan)
    assert "10,000 samples" in alt and "100 batches per epoch" in alt and "1,000 optimizer steps" in alt
    snippet = share.image_snippet("step_timeline.png", alt + HOSTILE, link="https://x.example/?a=1&b=2")
    tags = Tags(snippet).tags
    assert [t for t, _ in tags] == ["a", "img"]
    assert tags[0][1]["href"] == "https://x.example/?a=1&b=2"
    assert tags[1][1]["src"] == "step_timeline.png" and tags[1][1]["alt"] == alt + HOSTILE
    assert "<script" not in snippet


@pytest.mark.parametrize("src", ["javascript:alert(1)", "//evil.example/x.png", "", "a\nb.png"])
def test_image_fallback_refuses_unsafe_sources(src):
    with pytest.raises(share.ShareError):
        share.image_snippet(src, "alt")


def test_image_source_with_odd_characters_is_encoded():
    tags = Tags(share.image_snippet('my "chart" <1>.png', "alt")).tags
    assert tags[0][1]["src"] == "my%20%22chart%22%20%3C1%3E.png"
