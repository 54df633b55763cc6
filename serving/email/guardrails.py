"""Guardrails: pure checks of a drafted email against the order it was written for.

Every check returns the problems it found as ``"<reason>: <detail>"`` lines; an email passes when
no check finds anything. The offer check is the one that protects the dealer: every percentage,
amount, code or giveaway mentioned must come from ``allowed_offers``, whatever the model (or a
customer note pretending to be an instruction) says.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from serving.email.context import clean
from serving.email.schemas import EmailRequest, Verdict

REASONS = (
    "length",
    "placeholder",
    "missing_name",
    "missing_order",
    "offer_not_allowed",
    "url_not_allowed",
    "other_person_data",
    "repetition",
    "language",
)


@dataclass(frozen=True)
class Limits:
    min_chars: int = 80
    max_chars: int = 2500
    max_subject_chars: int = 120


_PLACEHOLDERS = [
    re.compile(r"\[[^\]\n]{1,60}\]"),
    re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{[A-Za-z_][A-Za-z0-9_ ]{0,30}\}"),
    re.compile(r"<[A-Za-z/!][^>\n]{0,60}>"),
    re.compile(r"\b(?:lorem ipsum|TODO|TBD|INSERT \w+|XXX+)\b", re.IGNORECASE),
]
_PERCENT = re.compile(r"(\d+(?:[.,]\d+)?)\s*(?:%|per\s?cent\b|prozent\b|pct\b)", re.IGNORECASE)
_HALF = re.compile(r"\bhalf[- ](?:price|off)\b|\bhalbe[nr]? preis", re.IGNORECASE)
_CURRENCY = r"(?:[$€£]|\b(?:EUR|USD|GBP|CHF)\b|\b(?:euros?|dollars?|pounds?)\b)"
_MONEY = re.compile(
    rf"{_CURRENCY}\s?(\d[\d.,]*\d|\d)|(\d[\d.,]*\d|\d)\s?{_CURRENCY}", re.IGNORECASE
)
_CODE = re.compile(r"\b[A-Z0-9][A-Z0-9_-]{3,}\b")
_GIVEAWAY = re.compile(
    r"\bfree\s+(?:shipping|delivery|upgrade|gift|returns?|of charge|item|product|month)\b"
    r"|\b(?:refund\w*|voucher\w*|coupon\w*|gift ?cards?|cashback|complimentary|gratis"
    r"|kostenlos\w*|gutschein\w*|rückerstattung\w*|geld zurück)\b",
    re.IGNORECASE,
)
_DISCOUNT = re.compile(
    r"\b(?:discount\w*|rabatt\w*|reduction|special (?:price|deal|offer)|sonderpreis|preisnachlass"
    r"|\d+\s?% off|money off|price match)\b",
    re.IGNORECASE,
)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_URL = re.compile(
    r"\bhttps?://[^\s<>\"')\]]+|\bwww\.[^\s<>\"')\]]+"
    r"|\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|net|org|io|de|fr|co|shop|info|biz|ly|app|eu)\b"
    r"(?:/[^\s<>\"')\]]*)?",
    re.IGNORECASE,
)
_PHONE = re.compile(r"(?<![\w-])\+?\d[\d ()/.-]{6,}\d(?![\w-])")
_GREETING = re.compile(
    r"^\s*(?:dear|hi|hello|hey|hallo|liebe[rs]?|sehr geehrte[rs]?(?: frau| herr)?)\s+([^\s,!:]+)",
    re.IGNORECASE,
)
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
_EN_WORDS = "the and you your to of we is for with that this have are will our be it please"
_EN_WORDS += " thank thanks would any can if us as on at so very"
_DE_WORDS = "der die das und sie ihre ihr ist wir mit für nicht ein eine zu uns auf dass bei"
_DE_WORDS += " vielen dank bitte es sich den dem gern freundlichen grüßen sehr wenn sind"
_STOPWORDS = {"en": frozenset(_EN_WORDS.split()), "de": frozenset(_DE_WORDS.split())}


def check(
    subject: str,
    body: str,
    request: EmailRequest,
    *,
    allowed_urls: Iterable[str] = (),
    limits: Limits = Limits(),
) -> Verdict:
    """Run every guardrail; the verdict lists each problem found."""
    text = f"{subject}\n{body}"
    urls = set(allowed_urls)
    reasons = [
        *length(subject, body, limits),
        *placeholders(text),
        *personalised(body, request),
        *offers(text, request),
        *links(text, urls, request),
        *other_people(text, request, urls),
        *repetition(body),
        *language(body, request.language),
    ]
    return Verdict(passed=not reasons, reasons=reasons)


def reason_code(reason: str) -> str:
    return reason.split(":", 1)[0]


def length(subject: str, body: str, limits: Limits) -> list[str]:
    out = []
    if not subject.strip() or len(subject) > limits.max_subject_chars:
        out.append(f"length: subject must have 1 to {limits.max_subject_chars} characters")
    if not limits.min_chars <= len(body.strip()) <= limits.max_chars:
        out.append(
            f"length: body has {len(body.strip())} characters, allowed "
            f"{limits.min_chars} to {limits.max_chars}"
        )
    return out


def placeholders(text: str) -> list[str]:
    found = [m.group(0) for pattern in _PLACEHOLDERS for m in pattern.finditer(text)]
    return [f"placeholder: {found[0]!r} left in the text"] if found else []


def personalised(body: str, request: EmailRequest) -> list[str]:
    out = []
    name = clean(request.customer.first_name)
    if not re.search(rf"(?<!\w){re.escape(name)}(?!\w)", body, re.IGNORECASE):
        out.append(f"missing_name: the customer's first name {name!r} is not in the body")
    if request.order_id.lower() not in body.lower():
        out.append(f"missing_order: the order reference {request.order_id} is not in the body")
    return out


def parse_number(raw: str) -> float | None:
    """'1,234.50', '1.234,50', '15,00', '20' -> float; None when it isn't a number."""
    s = raw.strip(".,")
    if "," in s and "." in s:
        decimal = "," if s.rfind(",") > s.rfind(".") else "."
        s = s.replace("." if decimal == "," else ",", "").replace(",", ".")
    elif "," in s:
        head, _, tail = s.rpartition(",")
        s = f"{head.replace(',', '')}.{tail}" if len(tail) == 2 else s.replace(",", "")
    elif s.count(".") == 1 and len(s.rpartition(".")[2]) == 3:
        s = s.replace(".", "")  # 1.234 is a thousand and more in German
    try:
        return float(s)
    except ValueError:
        return None


def _allowed_money(request: EmailRequest) -> set[float]:
    values = {round(request.order_value, 2)}
    for offer in request.allowed_offers:
        if offer.amount is not None:
            values.add(round(offer.amount, 2))
        for m in re.finditer(r"\d[\d.,]*\d|\d", offer.description):
            value = parse_number(m.group(0))
            if value is not None:
                values.add(round(value, 2))
    return values


def offers(text: str, request: EmailRequest) -> list[str]:
    """Every percentage, amount, code and giveaway must be one of the allowed offers."""
    out = []
    allowed = request.allowed_offers
    percents = {round(o.percent, 2) for o in allowed if o.percent is not None}
    for m in _PERCENT.finditer(text):
        value = parse_number(m.group(1))
        if value is None or round(value, 2) not in percents:
            out.append(f"offer_not_allowed: {m.group(0).strip()!r} is not an allowed offer")
    if _HALF.search(text) and 50.0 not in percents:
        out.append("offer_not_allowed: 'half price' is not an allowed offer")
    money = _allowed_money(request)
    for m in _MONEY.finditer(text):
        value = parse_number(m.group(1) or m.group(2))
        if value is None or round(value, 2) not in money:
            out.append(f"offer_not_allowed: amount {m.group(0).strip()!r} is not allowed")
    codes = {o.code.upper() for o in allowed}
    known = f"{request.order_id} {request.dealer_id} {request.product}".upper()
    for m in _CODE.finditer(text):
        token = m.group(0)
        has_both = any(c.isdigit() for c in token) and any(c.isalpha() for c in token)
        if has_both and token.upper() not in codes and token.upper() not in known:
            out.append(f"offer_not_allowed: code {token!r} is not an allowed offer code")
    descriptions = " ".join(o.description.lower() for o in allowed)
    for m in _GIVEAWAY.finditer(text):
        root = m.group(0).lower().split()[-1][:6]
        if root not in descriptions:
            out.append(f"offer_not_allowed: {m.group(0)!r} is not among the allowed offers")
    if not allowed and (m2 := _DISCOUNT.search(text)):
        out.append(f"offer_not_allowed: {m2.group(0)!r} but this order has no allowed offers")
    return sorted(set(out))


def links(text: str, allowed_urls: set[str], request: EmailRequest) -> list[str]:
    without_emails = _EMAIL.sub(" ", text)
    out = []
    for m in _URL.finditer(without_emails):
        url = m.group(0).rstrip(".,;:!?")
        if url not in allowed_urls and not any(url in a for a in allowed_urls):
            out.append(f"url_not_allowed: {url!r} was not inserted by the system")
    return sorted(set(out))


def other_people(text: str, request: EmailRequest, allowed_urls: set[str]) -> list[str]:
    """Contact data or a greeting that belongs to somebody other than this customer."""
    out = []
    customer = request.customer.email.lower()
    for m in _EMAIL.finditer(text):
        if m.group(0).lower() != customer:
            out.append(f"other_person_data: e-mail address {m.group(0)!r}")
    scrubbed = text
    for known in (request.order_id, request.dealer_id, *allowed_urls):
        scrubbed = scrubbed.replace(known, " ")
    for m in _PHONE.finditer(scrubbed):
        if sum(c.isdigit() for c in m.group(0)) >= 8:
            out.append(f"other_person_data: phone or account number {m.group(0).strip()!r}")
    greeting = _GREETING.match(text.split("\n", 1)[1] if "\n" in text else text)
    first = clean(request.customer.first_name).lower()
    if greeting and greeting.group(1).lower() not in {first, "customer", "kunde", "kundin"}:
        out.append(f"other_person_data: greets {greeting.group(1)!r}, not {first!r}")
    return sorted(set(out))


def repetition(body: str) -> list[str]:
    """Degenerate loops: a sentence three times, a 6-word run three times, a word 5x in a row."""
    sentences = [
        " ".join(s.lower().split()) for s in re.split(r"[.!?\n]+", body) if len(s.strip()) >= 12
    ]
    repeated = [s for s, n in Counter(sentences).items() if n >= 3]
    if repeated:
        return [f"repetition: {repeated[0][:60]!r} repeated"]
    # List items (offers) share their wording on purpose; loops show up in running text.
    prose = "\n".join(x for x in body.splitlines() if not x.lstrip().startswith(("-", "*", "•")))
    words = [w.lower() for w in _WORD.findall(prose)]
    grams = Counter(tuple(words[i : i + 6]) for i in range(len(words) - 5))
    if grams and grams.most_common(1)[0][1] >= 3:
        return [f"repetition: {' '.join(grams.most_common(1)[0][0])!r} repeated"]
    for i in range(len(words) - 4):
        if len(set(words[i : i + 5])) == 1:
            return [f"repetition: {words[i]!r} five times in a row"]
    return []


def detect_language(text: str) -> tuple[str, dict[str, int]]:
    words = [w.lower() for w in _WORD.findall(text)]
    scores = {lang: sum(w in stop for w in words) for lang, stop in _STOPWORDS.items()}
    return max(scores, key=lambda lang: scores[lang]), scores


def language(body: str, wanted: str) -> list[str]:
    best, scores = detect_language(body)
    if scores[wanted] < 3 or best != wanted:
        return [f"language: expected {wanted}, the text reads as {best} ({scores})"]
    return []
