"""Text uploads in legacy encodings decode exactly; bytes no encoding explains are refused."""

from __future__ import annotations

import random

import pytest

from loaders.errors import DocumentRejected, UnsupportedFormat
from loaders.parsers import load_document
from loaders.sniff import decode_text, recording_encodings
from loaders.text_decoding import declared_charset, decode_bytes

CP1252 = "“Curly quotes” cost 5 € — the café’s ‘special’ offer…"
LATIN1 = "Le café est ouvert à 9 h. Fermé le dimanche, réouverture lundi."
GERMAN = "Grüße aus München: Öffnungszeiten"


@pytest.mark.parametrize(
    ("data", "text", "encoding"),
    [
        (CP1252.encode("cp1252"), CP1252, "cp1252"),
        (LATIN1.encode("latin-1"), LATIN1, "cp1252"),  # cp1252 reads every printable latin-1
        (GERMAN.encode("latin-1"), GERMAN, "cp1252"),
        ("\ufeffUTF-16 LE: naïve 😀".encode("utf-16-le"), "UTF-16 LE: naïve 😀", "utf-16"),
        ("\ufeffUTF-16 BE: naïve 😀".encode("utf-16-be"), "UTF-16 BE: naïve 😀", "utf-16"),
        ("\ufeffUTF-32: ok".encode("utf-32-le"), "UTF-32: ok", "utf-32"),
        ("\ufeffBOM café".encode(), "BOM café", "utf-8"),
        ("plain café, 東京, שלום".encode(), "plain café, 東京, שלום", "utf-8"),
        ("Привет! Это руководство по возврату средств за годовой план.".encode("cp1251"),
         "Привет! Это руководство по возврату средств за годовой план.", "cp1251"),
    ],
)  # fmt: skip
def test_encodings_decode_exactly_and_are_named(data: bytes, text: str, encoding: str) -> None:
    decoded = decode_bytes(data)
    assert decoded.text == text
    assert decoded.encoding == encoding


def test_html_meta_charset_is_honoured() -> None:
    page = '<html><head><meta charset="windows-1252"><title>Prix</title></head><body>'
    page += "<p>Le “menu” coûte 5 €.</p></body></html>"
    assert decode_bytes(page.encode("cp1252")).encoding == "cp1252"
    assert decode_bytes(page.encode("cp1252")).text == page
    legacy = '<meta http-equiv="Content-Type" content="text/html; charset=ISO-8859-2"><p>'
    polish = legacy + "Zażółć gęślą jaźń</p>"
    decoded = decode_bytes(polish.encode("iso8859-2"))
    assert decoded.text == polish and decoded.encoding == "iso8859-2"


def test_html_meta_charset_that_is_wrong_or_bogus_is_not_trusted() -> None:
    # Re-saved as UTF-8 but kept its old latin-1 label: the UTF-8 reading is the right one.
    resaved = '<meta charset="iso-8859-1"><p>café</p>'
    assert decode_bytes(resaved.encode()).text == resaved
    assert decode_bytes(resaved.encode()).encoding == "utf-8"
    assert declared_charset(b'<meta charset="no-such-codec">') is None
    assert declared_charset(b'<meta charset="base64">') is None  # not a text encoding
    assert declared_charset(b'<meta charset="utf-16">') == "utf-8"  # WHATWG rule
    assert declared_charset(b'<meta charset="latin1">') == "cp1252"


def test_markdown_and_html_in_cp1252_parse_to_exact_text() -> None:
    md = "# Remboursements\n\nLes “forfaits annuels” sont remboursés sous 30 jours — 5 €.\n"
    parsed = load_document(md.encode("cp1252"), "remboursements.md")
    assert parsed.format == "markdown"
    assert parsed.sections[0].page_content == (
        "Les “forfaits annuels” sont remboursés sous 30 jours — 5 €."
    )
    page = '<html><head><meta charset="windows-1252"></head><body><h1>Café</h1>'
    page += "<p>Ouvert “tous les jours” — 5 €.</p></body></html>"
    html = load_document(page.encode("cp1252"), "cafe.html")
    assert "Ouvert “tous les jours” — 5 €." in html.text
    assert html.sections[0].metadata["heading_path"] == "Café"


def test_recording_names_the_encoding_of_each_decode() -> None:
    with recording_encodings() as seen:
        assert decode_text(CP1252.encode("cp1252")) == CP1252
        load_document("\ufeffwide text here".encode("utf-16-le"), "w.txt")
    assert seen == ["cp1252", "utf-16"]
    decode_text(b"outside")  # no recorder active: nothing breaks, nothing recorded
    assert seen == ["cp1252", "utf-16"]


@pytest.mark.parametrize("size", [12, 40, 400, 5000])
def test_random_high_bytes_are_not_decoded_into_nonsense(size: int) -> None:
    rng = random.Random(size)
    data = bytes(rng.randrange(0x80, 0x100) for _ in range(size))
    with pytest.raises(DocumentRejected) as err:
        decode_bytes(data)
    assert err.value.code == "ENCODING_ERROR"
    assert err.value.details["offset"] == 0
    assert "save it as UTF-8" in err.value.message


def test_text_with_garbage_in_the_middle_is_refused() -> None:
    rng = random.Random(5)
    junk = bytes(rng.randrange(0x80, 0x100) for _ in range(300))
    with pytest.raises(DocumentRejected) as err:
        load_document(b"Hello, this starts as text. " + junk + b" and ends as text.", "x.txt")
    assert err.value.code == "ENCODING_ERROR"
    assert err.value.details["offset"] == 28


def test_random_binary_is_refused_before_decoding() -> None:
    data = random.Random(1).randbytes(4096)
    with pytest.raises(UnsupportedFormat) as err:
        load_document(data, "blob.txt")
    assert err.value.code in ("UNSUPPORTED_FORMAT", "EXTENSION_MISMATCH")


def test_bom_text_that_is_broken_names_its_encoding() -> None:
    with pytest.raises(DocumentRejected) as err:
        decode_bytes(b"\xff\xfe" + b"\x00\xd8a\x00")  # a lone surrogate in UTF-16
    assert err.value.code == "ENCODING_ERROR"
    assert err.value.details == {"offset": 2, "encoding": "UTF-16-LE"}


def test_c1_controls_from_latin1_misreadings_are_cleaned() -> None:
    parsed = load_document("Price\x85 list\x9d ok: 5 € and more text".encode(), "p.txt")
    assert parsed.text == "Price list ok: 5 € and more text"
