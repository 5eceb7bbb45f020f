"""Questions reduced to comparable words, for the similarity cache (`similar.py`).

Pure functions over text: Unicode and case folding, contractions ("can't" -> "can not"),
literals taken out whole (numbers, amounts, dates, ids, codes, e-mails, URLs), a small
support-vocabulary phrase and synonym table, a light stemmer, and the word lists that
sort what is left into content, filler, negation and stopwords.

    signature("Where's order #1234?")   # content {"wher", "order"}, literals {"1234"}
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass

# Longer first messages are case-specific (a pasted e-mail), not FAQ questions.
MAX_CONTENT_WORDS = 12
MAX_QUESTION_CHARS = 300


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


STOPWORDS = _words("""
    a an the i me my mine myself we us our ours you your yours he him his she her it its they
    them their this that these those there here is am are was were be been being do does did
    doing have has had having can could would should will shall may might must to of in on at
    by for with about as so and or but if then than also too very any some oh ok okay well
    im ive s t d ll m re ve anything something thing things
""")
# Words a rewording adds or drops without changing the question. Verbs that can carry
# the question ("see" a refund is not "get" one; "try", "make", "show") are not here.
FILLER = _words("""
    please pls plz kindly help know tell want wanna like way possible able find get got
    getting let wondering wonder trying question quick quickly hi hello hey thanks thank
    thx dear still again currently actually exactly just really anyone someone somebody
""")
NEGATIONS = _words("not no never none nothing nobody nowhere neither nor without cannot unable")
# Words that flip the meaning of an otherwise identical question (compared as stems).
FLIP_WORDS_TEXT = """
    cancel renew refund exchange return replace increase decrease raise reduce before after
    add remove delete upgrade downgrade enable disable login logout signup subscribe
    unsubscribe activate deactivate open close start stop pause resume lock unlock block
    unblock accept reject approve decline deny buy sell send receive charge credit debit pay
    include exclude more less most least minimum maximum early late earlier later first last
    old new import export upload download off out up down over under above below higher lower
    cheaper international domestic optin optout free paid all only instead
"""
_NUMBER_WORDS = {w: str(i) for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen twenty".split())}
_NUMBER_WORDS.update(thirty="30", forty="40", fifty="50", sixty="60", seventy="70",
                     eighty="80", ninety="90", hundred="100", thousand="1000")
_NUMBER_WORDS.update({w: f"{i}th" for i, w in enumerate(
    "first second third fourth fifth sixth seventh eighth ninth tenth".split(), start=1)})
_NUMBER_WORDS.update(first="1st", second="2nd", third="3rd")
_CONTRACTIONS = {
    "can't": "can not", "won't": "will not", "shan't": "shall not", "ain't": "am not",
    "cant": "can not", "wont": "will not", "dont": "do not", "doesnt": "does not",
    "didnt": "did not", "isnt": "is not", "arent": "are not", "wasnt": "was not",
    "werent": "were not", "havent": "have not", "hasnt": "has not", "hadnt": "had not",
    "couldnt": "could not", "wouldnt": "would not", "shouldnt": "should not",
    "whats": "what is", "wheres": "where is", "hows": "how is", "whos": "who is",
    "whens": "when is", "whys": "why is", "thats": "that is", "theres": "there is",
}
_SUFFIXES = {"n't": "not", "'re": "are", "'m": "am", "'ve": "have", "'ll": "will", "'d": "would"}
# 's is "is" after these; elsewhere it is a possessive and dropped.
_IS_AFTER = _words("what where how who when why that there here it he she")
# Two words that mean one thing in support talk; the first word is matched as a stem.
_PHRASES = {
    ("log", "in"): "login", ("sign", "in"): "login", ("log", "on"): "login",
    ("log", "out"): "logout", ("sign", "out"): "logout", ("log", "off"): "logout",
    ("sign", "up"): "signup", ("set", "up"): "setup", ("opt", "in"): "optin",
    ("opt", "out"): "optout", ("turn", "on"): "enable", ("switch", "on"): "enable",
    ("turn", "off"): "disable", ("switch", "off"): "disable", ("money", "back"): "refund",
    ("how", "come"): "why", ("instead", "of"): "instead", ("rather", "than"): "instead",
    ("user", "name"): "username", ("e", "mail"): "email", ("check", "out"): "checkout",
    ("pick", "up"): "pickup", ("top", "up"): "topup",
}
_SYNONYMS = {
    "passwd": "password", "pwd": "password", "signin": "login", "logon": "login",
    "logoff": "logout", "signout": "logout", "register": "signup", "registration": "signup",
    "parcel": "package", "price": "cost", "product": "item", "acct": "account",
    "application": "app", "forgot": "forget", "forgotten": "forget", "bought": "buy",
    "purchase": "buy", "paid": "pay", "sent": "send", "delivery": "deliver",
    "deliveries": "deliver", "cancellation": "cancel", "info": "information",
}
# A noun after these keeps its role, so "from monthly to annual" is not "from annual to monthly".
_ROLE_MARKERS = _words("from than instead into")

_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'", "\u00b4": "'"})
_URL = re.compile(r"(?:https?://|www\.)\S+", re.I)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# "order no. 1234" and "order number 1234" say the same as "order #1234".
_NUMBER_LABEL = re.compile(r"\b(?:no|nr|num|number)\.?\s*(?=#?\d)", re.I)
# A token with a digit, with an optional currency sign, "#" or letter prefix ("ORD-1234").
_LITERAL = re.compile(r"(?<!\w)[£$€¥]?#?(?:[^\W\d_]+[-_]?)?\d[\w/:.,%-]*", re.I)
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_COUNT_UNIT = re.compile(r"^(\d+)-([^\W\d_]+)$")  # "30-day" reads as "30 day"
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")
_ACRONYM = re.compile(r"[A-Z]{2,3}")
_NOT_ACRONYMS = _words("ok hi hey pls plz thx")


def _stem(word: str) -> str:
    """A light suffix stripper: enough that "orders", "ordered" and "ordering" agree. It
    only has to be consistent on both sides, not produce real words."""
    if len(word) <= 3 or not word.isalpha():
        return word
    stem = word
    if word.endswith(("ies", "ied")) and len(word) > 4:
        return word[:-3] + "y"
    for suffix, rest in (("ation", 4), ("ing", 3), ("ed", 3), ("es", 3), ("s", 3)):
        if word.endswith(suffix) and len(word) - len(suffix) >= rest:
            if suffix == "es" and not word[:-2].endswith(("s", "x", "z", "ch", "sh")):
                continue
            if suffix == "s" and word.endswith(("ss", "us", "is")):
                break
            if suffix == "ed" and word.endswith("eed"):
                break
            stem = word[: -len(suffix)]
            break
    if len(stem) > 4 and stem.endswith("e"):
        stem = stem[:-1]  # "change" and "chang(ed)" agree
    if len(stem) > 3 and stem[-1] == stem[-2] and stem[-1] not in "aeiou":
        # On every word, not only stripped ones: "cancel(l)ed" and "bil(l)ing" agree.
        stem = stem[:-1]
    return stem


_SYNONYM_STEMS = {_stem(k): _stem(v) for k, v in _SYNONYMS.items()}
_PHRASE_STEMS = {(_stem(a), b): v for (a, b), v in _PHRASES.items()}
FLIP_WORDS = frozenset(_stem(w) for w in FLIP_WORDS_TEXT.split())


def _canonical(word: str) -> str:
    stem = _stem(_SYNONYMS.get(word, word))
    return _SYNONYM_STEMS.get(stem, stem)


@dataclass(frozen=True, slots=True)
class Signature:
    """A question reduced to what decides its answer; `key` is its "semantic hash" (equal
    for rewordings that normalise to the same words)."""

    content: frozenset[str]
    filler: frozenset[str]
    literals: frozenset[str]
    negated: bool
    key: str
    chars: int

    @property
    def eligible(self) -> bool:
        """Short questions with something to match on; greetings and long case write-ups
        are left to the exact cache."""
        return 0 < len(self.content) <= MAX_CONTENT_WORDS and self.chars <= MAX_QUESTION_CHARS


def _literals(text: str) -> tuple[str, set[str], list[str]]:
    """Takes out URLs, e-mails and tokens with digits; returns the rest, the literals and
    the words that came with a literal ("30-day" -> "day")."""
    found: set[str] = set()
    words: list[str] = []

    def take(match: re.Match[str]) -> str:
        found.add(match.group().casefold().rstrip(".,;:!?)/"))
        return " "

    text = _URL.sub(take, text)
    text = _EMAIL.sub(take, text)
    text = _NUMBER_LABEL.sub(" ", text)

    def number(match: re.Match[str]) -> str:
        token = _THOUSANDS.sub("", match.group().rstrip(".,:/-")).casefold().lstrip("#")
        unit = _COUNT_UNIT.match(token)
        if unit:
            token = unit.group(1)
            words.append(unit.group(2))
        found.add(token)
        return " "

    return _LITERAL.sub(number, text), found, words


def normalise(question: str) -> list[str]:
    """The question as comparable tokens, in order: stems of content and filler words,
    "not" for any negation, literals as written (casefolded), role-tagged nouns."""
    text = unicodedata.normalize("NFKC", question or "").translate(_APOSTROPHES)
    text, literals, unit_words = _literals(text)
    letters = [c for c in text if c.isalpha()]
    shouting = sum(c.isupper() for c in letters) > len(letters) / 2
    raw: list[tuple[str, bool]] = []  # (word, protected from the stopword list)
    for word in _WORD.findall(text):
        # "US" is a country and "IT" a department, not pronouns; unless it is all shouted.
        if not shouting and _ACRONYM.fullmatch(word) and word.casefold() not in _NOT_ACRONYMS:
            raw.append((word.casefold(), True))
            continue
        word = word.casefold()
        expanded = _CONTRACTIONS.get(word.replace("'", ""))
        if expanded is None and "'" in word:
            base, _, tail = word.partition("'")
            tail = "'" + tail
            if tail == "'t" and base.endswith("n"):
                base, tail = base[:-1], "n't"
            if tail == "'s":
                expanded = f"{base} is" if base in _IS_AFTER else base
            elif tail in _SUFFIXES:
                expanded = f"{base} {_SUFFIXES[tail]}"
            else:  # "o'clock"
                expanded = word.replace("'", "")
        raw.extend((w, False) for w in (expanded or word).split())
    raw.extend((w.casefold(), False) for w in unit_words)

    tokens: list[str] = []
    role: str | None = None
    has_from = any(w == "from" for w, _ in raw)
    i = 0
    while i < len(raw):
        word, protected = raw[i]
        i += 1
        if not protected and i < len(raw) and (_stem(word), raw[i][0]) in _PHRASE_STEMS:
            word = _PHRASE_STEMS[(_stem(word), raw[i][0])]
            i += 1
        if protected:
            token = word
        elif word in NEGATIONS:
            tokens.append("not")
            continue
        elif word in _NUMBER_WORDS:
            literals.add(_NUMBER_WORDS[word])
            continue
        elif word in _ROLE_MARKERS or (word == "to" and has_from):
            role = word
            if word == "instead":  # "instead of X" also says X is not wanted
                tokens.append(word)
            continue
        elif word in STOPWORDS:
            continue
        elif word in FILLER:
            tokens.append("~" + _stem(word))
            continue
        else:
            token = _canonical(word)
        tokens.append(token if role is None else f"{role}:{token}")
        role = None
    return tokens + sorted("#" + literal for literal in literals)


def signature(question: str) -> Signature:
    """The question's `Signature`; see `normalise` for the tokens it is built from."""
    tokens = normalise(question)
    content = frozenset(t for t in tokens if t[0] not in "~#" and t != "not")
    filler = frozenset(t[1:] for t in tokens if t[0] == "~")
    literals = frozenset(t[1:] for t in tokens if t[0] == "#")
    negated = "not" in tokens
    canonical = "|".join((" ".join(sorted(content)), " ".join(sorted(filler)),
                          " ".join(sorted(literals)), "not" if negated else ""))
    key = hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32]
    return Signature(content, filler, literals, negated, key, len(question or ""))
