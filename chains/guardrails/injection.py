"""Prompt-injection detection: attempts to override, replace or reveal the bot's instructions.

Deterministic patterns over several views of the text (see :mod:`chains.guardrails.text`) plus
decoded base64 and ROT13 payloads. Patterns target the *shape* of an attack ("ignore all
previous instructions", "you are now DAN", "print your system prompt", fake chat-template
tags), so ordinary requests that share a verb ("ignore my previous message", "override the
default rules", "kill the running import") pass. Also usable on retrieved passages to spot
instructions planted in documents.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import re
from dataclasses import dataclass

from chains.guardrails.text import compact, fold, views

_VERB = r"(?:ignore|ignoring|disregard|forget|skip|override|bypass|drop|discard|abandon|neglect)"
_QUAL = (
    r"(?:previous|prior|above|earlier|preceding|foregoing|original|initial|system|safety|"
    r"hidden|old|developer|given|all|any|every|your|these|those)"
)
# Rules, filters and directions are ordinary product words; only "previous/your/system/all..."
# before them turns "ignore the rules" into an attack.
_STRONG_QUAL = (
    r"(?:previous|prior|above|earlier|preceding|foregoing|original|system|safety|"
    r"hidden|developer|your|all)"
)
_STRONG_NOUN = r"(?:instructions?|prompts?|directives?|programming|system prompt)"
_WEAK_NOUN = (
    r"(?:rules?|guidelines?|polic(?:y|ies)|restrictions?|constraints?|context|guardrails?|"
    r"filters?|safeguards?|training|conditioning|limitations?|directions?)"
)
_FILL = (
    r"(?:(?:all|any|of|the|your|my|every|everything|these|those|that|what|you|were|was|"
    r"told|said|given|and|or)\s+)*"
)
_NOT_TOPIC = r"(?!\s+(?:for|on|about|regarding|around|when|if|to)\b)"
_BAN_NOUN = (
    r"(?:restrictions|censorship|limitations|ethical guidelines|moral guidelines|"
    r"content (?:filters?|polic(?:y|ies))|safety (?:filters?|guidelines)|ethics|morals)"
)

_EN_PATTERNS: dict[str, str] = {
    "override": rf"\b{_VERB}\s+{_FILL}(?:{_QUAL}\s+)*{_STRONG_NOUN}\b"
    rf"|\b{_VERB}\s+{_FILL}(?:{_STRONG_QUAL}\s+)+(?:{_QUAL}\s+)*{_WEAK_NOUN}\b"
    rf"|\b{_VERB}\s+(?:everything|all|anything)\s+(?:above|before|you (?:were|have been) told|"
    r"you know|prior|previously)\b"
    r"|\b(?:ignore|disregard) (?:the |all )?(?:above|preceding)(?:[.,;:!]|\s+and\b|$)"
    r"|\bnew (?:instructions?|rules|system prompt|directives?)\s*:"
    r"|\byour (?:new|real|true|only) (?:instructions?|task|role|goal|purpose|directive) "
    r"(?:is|are|will be)\b"
    r"|\bfrom now on,? (?:you (?:are|must|shall)|act|respond|reply|answer|ignore)\b"
    r"|\byou are no longer (?:just )?(?:an? |the )?(?:\w+ )?(?:ai|assistant|bot|chatbot|"
    r"bound|restricted|limited)\b"
    r"|\b(?:do not|don't|never) follow (?:your|the|any) (?:previous |original |system )?"
    r"(?:instructions|rules|guidelines|prompt)",
    "roleplay": r"\b(?:you are|you're|act as|pretend (?:to be|you are)|roleplay as|role-play as|"
    r"behave like|simulate|become|switch to|enter|enable|activate)\s+(?:now\s+)?"
    r"(?:an?\s+|the\s+)?(?:dan|evil|unfiltered|uncensored|unrestricted|jailbroken|unaligned|"
    r"rogue|amoral)\b"
    r"|\b(?:you are|you're|act as|pretend (?:to be|you are)|roleplay as|role-play as|"
    r"behave like|simulate)\s+(?:now\s+)?(?:in\s+)?(?:an?\s+|the\s+)?(?:developer|dev|god|sudo|"
    r"debug|admin|root|opposite) mode\b"
    r"|\b(?:you are|you're|act as|pretend (?:to be|you are)|play(?:ing)? (?:the role of|as)|"
    r"roleplay as|role-play as|imagine you are)\b.{0,40}\b(?:with no|without|free from|"
    r"not bound by) (?:any )?(?:rules|restrictions|filters|limits|guidelines|ethics|morals|"
    r"polic(?:y|ies)|content policy)"
    r"|\bdo anything now\b|\bjailbr(?:eak|oken) (?:mode|prompt|yourself|version)\b"
    r"|\b(?:chatgpt|assistant|ai|model|bot|you) (?:with|in) (?:developer|dev|god|debug) mode\b"
    r"|\bstay in character\b"
    rf"|\b(?:answer|respond|reply|talk|speak)\b.{{0,30}}\b(?:without|with no|free of) "
    rf"(?:any )?{_BAN_NOUN}"
    r"|\b(?:disable|turn off|deactivate|remove|bypass|ignore) (?:all )?(?:of )?your "
    r"(?:\w+ )?(?:filters?|guardrails?|restrictions|safeguards|censorship|safety)\b"
    r"|\b(?:disable|turn off|deactivate|bypass) (?:the |all |any )?(?:safety|moderation|ethical)"
    r" (?:filters?|guardrails?|restrictions|safeguards)\b",
    "reveal": r"\b(?:reveal|show|print|repeat|display|output|dump|leak|share|recite|spell out|"
    r"write out|echo|paste|give|tell|send|list|read|translate|summari[sz]e|what (?:is|are|were)|"
    r"what's)\b(?: me| us)?(?: back)?(?: the| your| all| of| every| exact| full| entire| word)*"
    r"(?: (?:original|hidden|secret|initial|system|internal|confidential|developer|exact|"
    r"complete|verbatim|raw|first|above|preceding|previous|prior))* ?"
    r"(?:system prompt|system message|initial prompt|hidden (?:prompt|instructions|rules)|"
    r"(?:secret|confidential|system|developer|hidden) instructions|"
    r"instructions you (?:were|have been) given|pre-?prompt|prompt above|meta[- ]?prompt)"
    r"|\b(?:reveal|show|print|repeat|display|output|dump|leak|recite|what (?:is|are|were)|"
    r"what's)\b(?: me)? (?:all )?(?:of )?your (?:\w+ )?(?:instructions|rules|prompt|guidelines|"
    rf"directives|configuration|programming)\b{_NOT_TOPIC}"
    r"|\b(?:repeat|print|output|reproduce|copy)\b.{0,20}\b(?:everything|all|the text|the words|"
    r"what(?:'s| is| was)? written|the content)\b.{0,20}\b(?:above|before this|so far|"
    r"preceding|at the (?:start|beginning))"
    r"|\bwords? (?:above|before) (?:starting|beginning) with\b"
    r"|\b(?:begin|start) your (?:reply|answer|response) with [\"']?you are\b"
    r"|\byour (?:system prompt|system message|initial prompt|hidden instructions|"
    r"secret instructions|pre-?prompt)\b"
    r"|\b(?:first|last|opening) (?:sentence|line|word|paragraph)s? of (?:your|the) (?:system )?"
    r"(?:prompt|instructions)\b",
    "fake_tags": r"<\|?(?:im_start|im_end|system|endoftext|eot_id|start_header_id|"
    r"end_header_id)\|?>|\[/?inst\]|<<\/?sys>>|<\/?(?:system|sys|instructions?)>"
    r"|(?:^|\n)\s*#{1,6}\s*(?:system|assistant|developer)\b\s*:?"
    r"|(?:^|\n)\s*(?:system|assistant|developer)\s*(?:prompt|message)?\s*:"
    r"|\b(?:end of|end) (?:the )?(?:system prompt|user input|instructions)\b"
    r"|\b(?:system|developer|root) override\b"
    r"|\b(?:admin|root|developer|sudo) (?:access|privileges|mode) (?:granted|enabled|unlocked)\b",
    "indirect": r"\b(?:note|message|instructions?|attention|important) (?:to|for) "
    r"(?:the |any |all )?"
    r"(?:ai|assistant|chatbot|llm|language model|ai assistant|ai model)s?\s*[:,\-]"
    r"|\bif you are an? (?:ai|llm|language model|ai assistant|chatbot)\b"
    r"|(?:^|[.!?\n]\s*|\b(?:hey|dear|attention|hello)\s+)(?:ai|assistant|chatbot|llm|bot)s?\s*"
    r"[,:]\s*(?:you must|you should|you will|please|now|always|never|ignore|disregard|forget)"
    r"|\b(?:when|while) (?:summari[sz]ing|answering|processing|reading) (?:this|these)\b.{0,60}"
    r"\b(?:ignore|disregard|instead|tell the (?:user|customer)|respond with|reply with|append|"
    r"insert)\b"
    r"|\bdo not (?:tell|inform|mention (?:this )?to|reveal (?:this )?to) the (?:user|customer)\b",
    "decode_and_follow": r"\b(?:decode|decrypt|translate|deobfuscate)\b.{0,40}\b(?:and|then)\s+"
    r"(?:follow|execute|obey|do|run|perform|act on)\b",
}

_MULTILINGUAL = {
    "es": r"\b(?:ignora|olvida|omite|descarta)[a-z]*\s+(?:todas?\s+)?(?:las\s+|tus\s+|"
    r"sus\s+)?(?:instrucciones|reglas|indicaciones)"
    r"|\b(?:muestra|revela|dime|imprime|repite)[a-z]*\s+(?:me\s+)?(?:tus?\s+(?:prompt|"
    r"instrucciones)|el prompt del sistema|las instrucciones (?:del sistema|ocultas))"
    r"|\bahora eres\s+(?:dan|un[a]? (?:ia|asistente) sin (?:restricciones|reglas|filtros))",
    "fr": r"\b(?:ignore|oublie|neglige)[a-z]*\s+(?:toutes?\s+)?(?:les\s+|tes\s+|vos\s+)?"
    r"(?:instructions|consignes|regles)"
    r"|\b(?:montre|revele|affiche|repete|donne)[a-z]*(?:-moi)?\s+(?:moi\s+)?(?:(?:ton|votre|tes|"
    r"vos)\s+(?:prompt|invite|instructions)|le prompt systeme|les instructions (?:systeme|"
    r"cachees))"
    r"|\btu es maintenant\s+(?:dan|une? (?:ia|assistant) sans (?:restrictions|regles|filtres))",
    "de": r"\b(?:ignoriere|vergiss|missachte|ubergehe)[a-z]*\s+(?:alle\s+)?(?:deine\s+|die\s+|"
    r"ihre\s+)?(?:vorherigen\s+|bisherigen\s+|vorigen\s+|obigen\s+)?(?:anweisungen|instruktionen|"
    r"regeln|vorgaben)"
    r"|\b(?:zeige?|verrate|gib|wiederhole|drucke)[a-z]*\s+(?:mir\s+)?(?:deinen\s+(?:system-?)?"
    r"prompt|deine\s+(?:system)?anweisungen|den system-?prompt)"
    r"|\bdu bist (?:jetzt|nun)\s+(?:dan|eine? (?:ki|assistent) ohne (?:einschrankungen|regeln))",
    "it_pt": r"\b(?:ignora|dimentica|esquece|esqueca)[a-z]*\s+(?:tutte\s+|todas\s+)?"
    r"(?:le\s+|as\s+|tue\s+|suas\s+)?(?:istruzioni|instrucoes|regras|regole)",
}

# Whatever the spacing, these letter sequences are an attack ("i.g.n.o.r.e a.l.l...").
_COMPACT = re.compile(
    r"(?:ignore|disregard|forget|bypass|override)(?:all|the|your|of)*(?:previous|prior|above|"
    r"earlier|preceding|system|original)(?:instructions?|prompts?|rules|directives|guidelines)"
    r"|(?:ignore|disregard|forget)(?:all|your)+(?:instructions|prompts?|rules|directives)"
    r"|(?:reveal|print|show|repeat)(?:me)?(?:your|the)(?:system|hidden|secret)(?:prompt|"
    r"instructions)|doanythingnow"
)
_COMPILED = {
    name: re.compile(pattern) for name, pattern in {**_EN_PATTERNS, **_MULTILINGUAL}.items()
}
_DAN = re.compile(r"\bDAN\b|\bD\.A\.N\.?")
_BASE64 = re.compile(r"[A-Za-z0-9+/]{16,}={0,2}")
_HEX = re.compile(r"\b(?:[0-9a-fA-F]{2}[ ]?){12,}\b")


@dataclass(frozen=True)
class InjectionHit:
    """One detected attack: which family matched and the text that matched (in its view)."""

    kind: str
    evidence: str


def _decoded_payloads(text: str) -> list[str]:
    """Cheap-to-decode hidden payloads: base64 and hex tokens that decode to text, and ROT13."""
    out = [codecs.decode(text, "rot13")]
    for token in _BASE64.findall(text):
        try:
            raw = base64.b64decode(token + "=" * (-len(token) % 4), validate=True)
        except (binascii.Error, ValueError):
            continue
        decoded = raw.decode("utf-8", errors="ignore")
        if decoded and sum(c.isprintable() for c in decoded) / len(decoded) > 0.9:
            out.append(decoded)
    for token in _HEX.findall(text):
        try:
            out.append(bytes.fromhex(token.replace(" ", "")).decode("utf-8", errors="ignore"))
        except ValueError:
            continue
    return out


def _scan(text: str) -> InjectionHit | None:
    for view in views(text):
        for name, pattern in _COMPILED.items():
            m = pattern.search(view)
            if m:
                return InjectionHit(name, m.group(0))
    m = _COMPACT.search(compact(fold(text)))
    return InjectionHit("obfuscated", m.group(0)) if m else None


def find_injection(text: str) -> InjectionHit | None:
    """The first injection pattern found in ``text`` or in a decoded payload, else None."""
    if _DAN.search(text):
        return InjectionHit("roleplay", "DAN")
    hit = _scan(text)
    if hit:
        return hit
    for payload in _decoded_payloads(text):
        hit = _scan(payload)
        if hit:
            return InjectionHit(f"encoded_{hit.kind}", hit.evidence)
    return None
