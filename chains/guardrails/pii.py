"""Personal data in text: detection of emails, phones, SSNs, payment cards and IPs, and masking.

Patterns err towards precision: support messages are full of order numbers, dates, prices and
versions, so a card must pass the Luhn check and carry a known network prefix, a bare run of
digits counts as a phone or SSN only next to a word saying so, and an IP must parse.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

PII_CODES: dict[str, str] = {
    "PII_EMAIL": "[EMAIL]",
    "PII_CREDIT_CARD": "[CARD]",
    "PII_SSN": "[SSN]",
    "PII_IP_ADDRESS": "[IP]",
    "PII_PHONE": "[PHONE]",
}

_EMAIL = re.compile(r"(?<![\w.+-])[\w.%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
_CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")
_SSN = re.compile(r"(?<![\d-])(\d{3})-(\d{2})-(\d{4})(?![\d-])")
_SSN_BARE = re.compile(r"(?i)\b(?:ssn|social security(?: number| no\.?)?)\D{0,20}?(\d{9})\b")
_IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?!\.?\d)")
_IPV6 = re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])")
_PHONE_INTL = re.compile(r"(?<![\w+])\+\d{1,3}(?:[ .-]?\(?\d{1,4}\)?){2,5}(?![\w-])")
_PHONE_US = re.compile(r"(?<![\w+-])(?:1[ .-])?(?:\(\d{3}\) ?|\d{3}[ .-])\d{3}[ .-]\d{4}(?![\w-])")
_PHONE_BARE = re.compile(
    r"(?i)\b(?:phone|call|cell|mobile|tel|telephone|whatsapp|sms|text me)\b\D{0,20}?"
    r"(?<!\d)(\+?\d{10,11})(?!\d)"
)
# Payment networks: Visa, Mastercard, Amex, Discover, Diners, JCB, UnionPay, Maestro.
_CARD_PREFIX = re.compile(r"^(?:4|5[1-5]|2[2-7]|3[47]|3[068]|35|6011|64[4-9]|65|62|50|5[6-8])")


@dataclass(frozen=True)
class PiiMatch:
    """One piece of personal data: its code, where it is, and the text found."""

    code: str
    start: int
    end: int
    value: str


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum every payment card number satisfies (one typo in ten is caught)."""
    if not digits.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def is_card_number(candidate: str) -> bool:
    """13-19 digits (spaces/dashes allowed), a known network prefix, and a valid Luhn sum."""
    digits = re.sub(r"[ -]", "", candidate)
    return 13 <= len(digits) <= 19 and bool(_CARD_PREFIX.match(digits)) and luhn_valid(digits)


def _valid_ssn(area: str, group: str, serial: str) -> bool:
    # Never issued: area 000, 666 or 9xx; group 00; serial 0000.
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


def _valid_ip(candidate: str) -> bool:
    try:
        ip = ipaddress.ip_address(candidate)
    except ValueError:
        return False
    return not (ip.version == 6 and candidate.count(":") < 2)


def _candidates(text: str) -> list[PiiMatch]:
    found: list[PiiMatch] = []

    def add(code: str, m: re.Match[str], group: int = 0) -> None:
        found.append(PiiMatch(code, m.start(group), m.end(group), m.group(group)))

    for m in _EMAIL.finditer(text):
        add("PII_EMAIL", m)
    for m in _CARD.finditer(text):
        if is_card_number(m.group(0)):
            add("PII_CREDIT_CARD", m)
    for m in _SSN.finditer(text):
        if _valid_ssn(*m.groups()):
            add("PII_SSN", m)
    for m in _SSN_BARE.finditer(text):
        digits = m.group(1)
        if _valid_ssn(digits[:3], digits[3:5], digits[5:]):
            add("PII_SSN", m, 1)
    for pattern in (_IPV4, _IPV6):
        for m in pattern.finditer(text):
            if _valid_ip(m.group(0)):
                add("PII_IP_ADDRESS", m)
    for m in _PHONE_INTL.finditer(text):
        if 8 <= sum(c.isdigit() for c in m.group(0)) <= 15:
            add("PII_PHONE", m)
    for m in _PHONE_US.finditer(text):
        add("PII_PHONE", m)
    for m in _PHONE_BARE.finditer(text):
        add("PII_PHONE", m, 1)
    return found


def find_pii(text: str) -> list[PiiMatch]:
    """All personal data in ``text``, left to right, without overlaps.

    Where two patterns claim the same characters the more specific one wins (the order of
    :data:`PII_CODES`): a card number is not also reported as a phone number.
    """
    rank = {code: i for i, code in enumerate(PII_CODES)}
    taken: list[PiiMatch] = []
    for match in sorted(_candidates(text), key=lambda m: (rank[m.code], m.start)):
        if all(match.end <= t.start or match.start >= t.end for t in taken):
            taken.append(match)
    return sorted(taken, key=lambda m: m.start)


def mask(text: str, matches: list[PiiMatch]) -> str:
    """Replace each match by its placeholder ("[EMAIL]", "[CARD]"...)."""
    out: list[str] = []
    last = 0
    for m in sorted(matches, key=lambda m: m.start):
        out.append(text[last : m.start])
        out.append(PII_CODES[m.code])
        last = m.end
    out.append(text[last:])
    return "".join(out)


def normalized_value(match: PiiMatch) -> str:
    """A comparable form: emails lower-cased, numbers reduced to digits, IPs canonical."""
    if match.code == "PII_EMAIL":
        return match.value.lower()
    if match.code == "PII_IP_ADDRESS":
        return str(ipaddress.ip_address(match.value))
    return re.sub(r"\D", "", match.value)
