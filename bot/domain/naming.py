"""Anonymity per the terms of reference: staff are referred to by case number, never by name.

`find_person_names` looks for text that appears to name a person, so a free-text field (the
concern, immediate risks, ...) can be refused at the field with `describe_hits`. Three rules:

1. A title and a capitalised word: "Dr Smith", "Dr. J. Smith", "Nurse Jackie", "Professor Sir John Smith".
2. A known given name and a capitalised word: "Sarah Connor", "Jo O'Neill", "Anne-Marie Duff",
   "Rhys ap Gruffydd". Given names that are also everyday words ("Will", "May", "Rose", "Grace",
   "Amber", ...) count only before a word that is not itself a common word, so "May Day" passes.
3. A workspace member's name from the Slack directory, in any case, on word boundaries, when the
   directory entry has two or more words ("Priya Patel") or is one token of 4+ characters with a
   non-letter in it ("j.smith"); plus title + last word of a member's name in any case ("dr patel").

Not names: ALL-CAPS words (acronyms such as NHS, GP, A&E, and case numbers such as PMCCG-2026-007),
initials ("J.S.", "JS", "Mr X"), roles and services ("Medical Director", "Patient Safety"),
capitalised words at the start of a sentence ("The Patient was seen"), eponymous places
("John Radcliffe Hospital", "on Elizabeth Ward"), and Slack mentions (<@U123>), handled elsewhere.

This is a safeguard against slips, not a guarantee. Known limits:
- Missed: a first name alone ("Sarah said"), a surname alone ("Patel said"), surname first ("Zhang Wei",
  "SMITH, Sarah"), names in lower case or ALL CAPS ("sarah connor", "DR SMITH"), and given names not in
  bot/domain/data/given_names.txt, unless the person is in `directory_names`.
- Flagged wrongly: a given name before a capitalised word that is not a name ("Elizabeth Ward was
  short-staffed", "Will Datix be updated?"), a title before a capitalised non-role word ("Dr Foster
  Intelligence"), and real people who are not staff ("Dylan Thomas").
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources

REASON_TITLE = "a title and surname"
REASON_GIVEN = "a first and last name"
REASON_MEMBER = "the name of a workspace member"


@dataclass(frozen=True)
class NameHit:
    """One place in the text that looks like a person's name."""

    text: str  # the words as they appear in the input, e.g. "Dr Smith"
    reason: str  # short, user-facing: REASON_TITLE, REASON_GIVEN or REASON_MEMBER


# --- word lists (casefolded) -------------------------------------------------------------------


def _word_set(words: str) -> frozenset[str]:
    """The whitespace-separated words of a literal, as a set (keeps the long lists readable)."""
    return frozenset(words.split())


TITLES = _word_set("dr mr mrs ms miss mx prof professor nurse sister matron sir dame lord rev revd reverend")
# Titles also written in lower case ("dr smith"); the others must be capitalised ("Nurse Jackie").
_LOWERCASE_TITLES = _word_set("dr mr mrs mx prof")
# Nursing titles are mostly followed by roles and places ("Nurse Bank", "Sister Ward"): strict stop list.
_NURSING_TITLES = _word_set("nurse sister matron")

# Given names that are also everyday English words: they count only before an uncommon word.
AMBIGUOUS_GIVEN_NAMES = _word_set(
    """
    will may june april august rose grace hope faith joy dawn amber ruby holly ivy hazel heather iris
    violet lily daisy poppy jade pearl crystal summer autumn sky skye star honor honour patience
    prudence constance charity mercy harmony melody river storm brook dale glen heath forest reed
    wade drew lance rich gene don art carol penny earl king prince duke victoria florence chelsea
    paris jordan georgia india christian frank bill pat sue mark rob jack bob ray dean guy miles
    chase hunter max sunny angel jan jun grant major olive ginger sandy cliff ash bay page
    """
)

# Words that follow a title or a given name but are not surnames: function words, calendar words,
# roles, services and places common in NHS text.
_FUNCTION_WORDS = """
    the a an and or but nor so yet if then than when while where whereas why how what which who whom
    whose that this these those there here it its he she they we you i me him her hers his them their
    theirs us our ours my mine your yours is are was were be been being am has have had do does did
    will would shall should can could might must not no yes also too very just only even still again
    already please thanks thank of in on at to from for with without by about above below over under
    after before during since until till into onto upon within across along around between among
    against via per as like re all any some each every both either neither none many much most more
    less few other another such same own new old first second third last next previous now later
    soon however therefore although though because unless whether overall see said says told asked
    reported raised stated noted agreed confirmed explained advised out up down off ok okay dear hi
    hello regards kind best
"""
_CALENDAR_WORDS = """
    monday tuesday wednesday thursday friday saturday sunday january february march july september
    october november december jan feb mar apr jun jul aug sep sept oct nov dec mon tue tues wed thu
    thur thurs fri sat sun morning afternoon evening night nights week weeks weekend month months
    year years quarter holiday holidays christmas easter eid diwali today tonight tomorrow yesterday
"""
_ROLE_WORDS = """
    director directors deputy associate assistant chief executive officer officers lead leads manager
    managers management head heads consultant consultants registrar registrars practitioner
    practitioners specialist specialists nurse nurses nursing sister sisters matron matrons midwife
    midwives midwifery doctor doctors physician physicians surgeon surgeons therapist therapists
    therapy pharmacist pharmacists pharmacy paramedic paramedics clinician clinicians clinical medical
    medicine medicines surgical surgery staff staffing team teams board boards committee committees
    panel panels group groups forum council trust trusts foundation service services department
    departments directorate division unit units ward wards hospital hospitals infirmary clinic clinics
    centre center practice practices primary secondary community acute emergency urgent intensive
    critical mental health healthcare care social safety safeguarding quality governance patient
    patients people workforce human resources resourcing occupational employee employees relations
    partner partners partnership network royal college university school institute academy agency
    bank locum locums rota rotas shift shifts duty duties round rounds handover theatre theatres
    outpatient outpatients inpatient inpatients admissions discharge education training development
    learning support supervisor supervisors supervision appraisal revalidation review reviews
    investigation investigations investigator case cases incident incidents report reports action
    actions plan plans policy policies procedure procedures process guidance meeting meetings minutes
    agenda hearing hearings decision outcome outcomes concern concerns capability conduct performance
    sickness absence leave annual maternity paternity risk risks register registered senior junior
    trainee trainees student students specialty speciality core general acting interim named
    responsible freedom speak guardian advocate union representative rep legal counsel programme
    project operations operational finance estates facilities admin administration administrator
    secretary receptionist porter porters domestic security pathology radiology cardiology oncology
    paediatrics paediatric obstetrics gynaecology orthopaedics neurology psychiatry psychology
    geriatrics elderly neonatal respiratory renal stroke diabetes dermatology urology haematology
    anaesthetics anaesthetist anaesthesia dental ophthalmology microbiology infection prevention
    control palliative hospice ambulance prescribing prescriber assessor auditor audit standards
    compliance regulator regulatory commission inspector inspection ombudsman tribunal police coroner
    integrated commissioning system region regional national local central north south east west
    northern southern eastern western upper lower main site building block wing floor level suite
    office room area station desk hub portal online email phone teams zoom slack channel form
    procurement payroll recruitment emeritus mayor council fellow fellows sir dame lord lady
"""
_STOP_STRICT = frozenset((_FUNCTION_WORDS + _CALENDAR_WORDS + _ROLE_WORDS).split())
# Stop words that are also common surnames: after "Dr"/"Mr" or an unambiguous given name they count
# as the surname ("Mr Ward", "Sarah Hall"); after a nursing title or an ambiguous given name they don't.
_SURNAME_LIKE = _word_set(
    "ward head porter west north south east bank banks hall park young wood church king bishop fellow "
    "dean march lord lady case page"
)
_STOP_NAME = _STOP_STRICT - _SURNAME_LIKE
# Extra words that rule out an ambiguous given name ("May Day", "Grace Period", "Amber Alert").
_COMMON_WORDS = _word_set(
    """
    day days time times power point points garden gardens street hill hills park hall lane well wells
    water field fields wood woods gate house way place cross court green square road avenue close drive
    grove terrace bay view valley bridge mill farm end side town city village queen king castle tower
    church chapel abbey manor lodge cottage rise row walk crescent fool fools festival fair flower
    flowers show party period note notes mark marks sheet scheme rating rated status alert alerts flag
    flags warning level levels award awards line lines bed beds door light lights ball white black red
    blue amber yellow grey gray brown pink purple orange gold silver star stars moon sun sky river lake
    sea spring summer autumn winter eve good great big little long high low full half top bottom
    update updates list lists check checks form forms bill bills payment pay rise date dates event
    events celebration celebrations fund funds appeal charity ward wards shift shifts rota
    """
)
_AMBIGUOUS_STOP = _STOP_STRICT | _COMMON_WORDS | AMBIGUOUS_GIVEN_NAMES
# Lower-case surname particles: "Anna van der Berg", "Rhys ap Gruffydd", "Abdul al-Rahman".
_PARTICLES = _word_set("van von der den de del della di da dos das du la le bin binti bint ibn al el ap ab ter ten")
# A name followed by one of these is an eponym, not a person: "John Radcliffe Hospital".
_EPONYM_SUFFIXES = _word_set(
    """
    hospital hospitals infirmary hospice centre center clinic institute foundation trust unit wing building
    library award awards prize fellowship scholarship programme lecture theatre suite surgery medical
    health memorial school college university academy ward wards road street avenue syndrome disease
    """
)
# A place-like surname after one of these is a ward or building: "on Elizabeth Ward".
_PLACE_SURNAMES = _word_set("ward house hall lodge court park wing")
_LOCATIVES = _word_set("on at in into onto off near the via outside inside within")
_MOTION_VERBS = _word_set("transferred moved admitted went sent returned redeployed seconded discharged back")

# --- tokenising ----------------------------------------------------------------------------------

_MENTION = re.compile(r"<[@#!][^<>]*>")
_WORD = re.compile(r"[^\W\d_]+(?:['’\-][^\W\d_]+)*")
_DIR_WORD = re.compile(r"[\w'’.\-]+")
_SPACE_GAP = re.compile(r"[ \t\u00a0]+")  # between words of one name
_DOT_GAP = re.compile(r"\.?[ \t\u00a0]*")  # after a title or an initial: "Dr. J. Smith", "J.S."
_POSSESSIVE_GAP = re.compile(r"(?:['’]s)?[ \t\u00a0]+")  # "Dr Gray's Hospital"
_DIR_GAP = re.compile(r"[ \t\u00a0.]+")
_EMOJI = re.compile(r":[\w+\-]+:")
_BRACKETED = re.compile(r"\([^)]*\)|\[[^\]]*\]")
_DIR_PART_SEPARATOR = re.compile(r"\s+[|/\-–—]\s+|[,;|/]")
_EDGE = ".'’-"


class _Words:
    """The words of one text as parallel lists (cheaper than an object per word)."""

    __slots__ = ("ends", "folds", "starts", "text", "words")

    def __init__(self, text: str, spans: list[tuple[int, int]]) -> None:
        self.text = text
        self.starts = [s for s, _ in spans]
        self.ends = [e for _, e in spans]
        self.words = [text[s:e] for s, e in spans]
        self.folds = [w.casefold() for w in self.words]

    def __len__(self) -> int:
        return len(self.words)

    def gap_matches(self, i: int, pattern: re.Pattern[str]) -> bool:
        """Whether the text between word i and word i + 1 is all `pattern`."""
        return i + 1 < len(self.words) and pattern.fullmatch(self.text, self.ends[i], self.starts[i + 1]) is not None


def _mask_mentions(text: str) -> str:
    return _MENTION.sub(lambda m: " " * len(m.group()), text) if "<" in text else text


def _strip_possessive(text: str, start: int, end: int) -> int:
    if end - start > 2 and text[end - 1] in "sS" and text[end - 2] in "'’":
        return end - 2
    return end


def _words(text: str) -> _Words:
    spans = []
    for m in _WORD.finditer(text):
        start, end = m.span()
        spans.append((start, _strip_possessive(text, start, end)))
    return _Words(text, spans)


def _dir_words(text: str) -> _Words:
    spans = []
    for m in _DIR_WORD.finditer(text):
        start, end = m.span()
        while start < end and text[start] in _EDGE:
            start += 1
        while end > start and text[end - 1] in _EDGE:
            end -= 1
        end = _strip_possessive(text, start, end)
        while end > start and text[end - 1] in _EDGE:
            end -= 1
        if start < end:
            spans.append((start, end))
    return _Words(text, spans)


def _deaccent(word: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", word) if not unicodedata.combining(c))


@functools.cache
def given_names() -> frozenset[str]:
    """The shipped given names (bot/domain/data/given_names.txt), casefolded, with unaccented forms added."""
    raw = resources.files("bot.domain.data").joinpath("given_names.txt").read_text(encoding="utf-8")
    names: set[str] = set()
    for line in raw.splitlines():
        name = line.strip()
        if name and not name.startswith("#"):
            names.add(name.casefold())
            names.add(_deaccent(name).casefold())
    return frozenset(names)


# --- word shapes ---------------------------------------------------------------------------------

# Endings of everyday nouns and adjectives that are rarely surnames: "Grant Application", "Frank Discussion".
_WORD_ENDINGS = tuple(sorted(_word_set("tion sion ment ness ity ship ism ogy ics ful less ous able ible")))


def _is_capitalised(word: str) -> bool:
    """ "Smith", "McDonald", "O'Neill", "Smith-Jones"; not "NHS", "J", "iPad", "Nurse-led"."""
    if "-" not in word:
        return len(word) > 1 and word[0].isupper() and not word.isupper() and not word[1:].isupper()
    return all(_is_capitalised(part) for part in word.split("-"))


def _is_initial(word: str) -> bool:
    return len(word) == 1 and word.isupper()


def _is_particle_surname(word: str) -> bool:
    """ "al-Rahman", "el-Amin", "d'Souza": a lower-case particle joined to a capitalised name."""
    for sep in "-'’":
        head, found, tail = word.partition(sep)
        if found and (head.casefold() in _PARTICLES or head in ("d", "l")) and _is_capitalised(tail):
            return True
    return False


def _is_given_name(word: str, fold: str) -> bool:
    if not _is_capitalised(word):
        return False
    names = given_names()
    if fold in names or fold in AMBIGUOUS_GIVEN_NAMES:
        return True
    if not fold.isascii() and _deaccent(fold) in names:  # "Chloë" for the listed "Chloe"
        return True
    head = fold.split("-", 1)[0]  # "Mary-Jane"
    return head != fold and head in names


# --- rules 1 and 2 -------------------------------------------------------------------------------


class _Scanner:
    """Rules 1 and 2 over the words of one text; each `*_hit(i)` returns the index of the name's last word."""

    def __init__(self, words: _Words) -> None:
        self.w = words

    def is_title(self, j: int) -> bool:
        fold = self.w.folds[j]
        if fold not in TITLES:
            return False
        word = self.w.words[j]
        return (word[0].isupper() and word[1:].islower()) or fold in _LOWERCASE_TITLES

    def skip_initials(self, j: int) -> int:
        """From word j, skip initials ("J", "J.", "J.S.") that are followed by another word."""
        w = self.w
        while j < len(w) and _is_initial(w.words[j]) and w.gap_matches(j, _DOT_GAP):
            j += 1
        return j

    def surname_at(self, j: int, stop: frozenset[str], *, everyday_endings_allowed: bool = True) -> int | None:
        """Index of the last word of a surname starting at word j (after particles), or None."""
        w = self.w
        while j < len(w) and w.words[j] in _PARTICLES and w.gap_matches(j, _SPACE_GAP):
            j += 1
        if j >= len(w):
            return None
        word, fold = w.words[j], w.folds[j]
        if _is_particle_surname(word):
            return j
        if not _is_capitalised(word) or fold in stop or fold in TITLES:
            return None
        if not everyday_endings_allowed and fold.endswith(_WORD_ENDINGS):
            return None
        return j

    def extend(self, last: int) -> int:
        """Take up to two more name words: "Sarah Jane Smith", "Dr John Paul Smith"."""
        w = self.w
        for _ in range(2):
            if not w.gap_matches(last, _SPACE_GAP):
                break
            word, fold = w.words[last + 1], w.folds[last + 1]
            if not _is_capitalised(word) or fold in _STOP_NAME or fold in _EPONYM_SUFFIXES or fold in TITLES:
                break
            last += 1
        return last

    def is_eponym(self, first: int, last: int) -> bool:
        """ "John Radcliffe Hospital", "on Elizabeth Ward": a place named after someone."""
        w = self.w
        if w.gap_matches(last, _POSSESSIVE_GAP) and w.folds[last + 1] in _EPONYM_SUFFIXES:
            return True
        if w.folds[last] in _PLACE_SURNAMES and first > 0:
            before = w.folds[first - 1]
            if before in _LOCATIVES:
                return True
            if before == "to" and first > 1 and w.folds[first - 2] in _MOTION_VERBS:
                return True
        return False

    def title_hit(self, i: int) -> int | None:
        """Rule 1: "Dr Smith", "Dr. J. Smith", "Professor Sir John Smith"."""
        w = self.w
        j = i
        while j < len(w) and self.is_title(j) and w.gap_matches(j, _DOT_GAP):
            j += 1
        if j == i:
            return None
        j = self.skip_initials(j)
        last = self.surname_at(j, _STOP_STRICT if w.folds[i] in _NURSING_TITLES else _STOP_NAME)
        if last is None:
            return None
        last = self.extend(last)
        return None if self.is_eponym(i, last) else last

    def given_name_hit(self, i: int) -> int | None:
        """Rule 2: "Sarah Connor", "Sarah J. Connor", "Rhys ap Gruffydd"; "Will"/"May" only before a rare word."""
        w = self.w
        if not _is_given_name(w.words[i], w.folds[i]) or not w.gap_matches(i, _SPACE_GAP):
            return None
        ambiguous = w.folds[i] in AMBIGUOUS_GIVEN_NAMES
        if ambiguous and _is_given_name(w.words[i + 1], w.folds[i + 1]):
            return None  # "Will Sarah Connor attend?": the name starts at the next word
        last = self.surname_at(
            self.skip_initials(i + 1),
            _AMBIGUOUS_STOP if ambiguous else _STOP_NAME,
            everyday_endings_allowed=not ambiguous,
        )
        if last is None:
            return None
        last = self.extend(last)
        return None if self.is_eponym(i, last) else last


def _pattern_hits(text: str) -> list[tuple[int, int, str]]:
    words = _words(text)
    scanner = _Scanner(words)
    hits: list[tuple[int, int, str]] = []
    i = 0
    n = len(words)
    while i < n:
        word = words.words[i]
        if not word[0].isupper() and words.folds[i] not in _LOWERCASE_TITLES:
            i += 1  # fast path: names start with a capital (or "dr", "mr", ...)
            continue
        last = scanner.title_hit(i)
        reason = REASON_TITLE
        if last is None:
            last = scanner.given_name_hit(i)
            reason = REASON_GIVEN
        if last is None:
            i += 1
            continue
        hits.append((words.starts[i], words.ends[last], reason))
        i = last + 1
    return hits


# --- rule 3: the workspace directory ------------------------------------------------------------


@dataclass(frozen=True)
class _DirectoryIndex:
    by_first: dict[str, tuple[tuple[str, ...], ...]]  # first word -> whole names, longest first
    surnames: frozenset[str]  # last words of multi-word names, matched after a title


def _directory_parts(entry: str) -> list[list[str]]:
    cleaned = _BRACKETED.sub(" ", _EMOJI.sub(" ", entry))
    return [_dir_words(part).folds for part in _DIR_PART_SEPARATOR.split(cleaned)]


def _is_distinctive(words: list[str]) -> bool:
    """Two or more words, not all of them roles or initials; or one token like "j.smith"."""
    if len(words) >= 2:
        return any(len(w) > 1 and w not in _STOP_STRICT and w not in TITLES for w in words)
    if len(words) == 1:
        word = words[0]
        return len(word) >= 4 and any(c.isalpha() for c in word) and not word.isalpha()
    return False


@functools.lru_cache(maxsize=8)
def _directory_index(names: tuple[str, ...]) -> _DirectoryIndex:
    by_first: dict[str, set[tuple[str, ...]]] = {}
    surnames: set[str] = set()
    for entry in names:
        for words in _directory_parts(entry):
            if not _is_distinctive(words):
                continue
            by_first.setdefault(words[0], set()).add(tuple(words))
            last = words[-1]
            if len(words) >= 2 and len(last) >= 2 and last.isalpha() and last not in _STOP_NAME:
                surnames.add(last)
    return _DirectoryIndex(
        by_first={k: tuple(sorted(v, key=len, reverse=True)) for k, v in by_first.items()},
        surnames=frozenset(surnames),
    )


def _directory_hits(text: str, index: _DirectoryIndex) -> list[tuple[int, int, str]]:
    w = _dir_words(text)
    folds, n = w.folds, len(w)
    by_first, surnames = index.by_first, index.surnames
    hits: list[tuple[int, int, str]] = []
    i = 0
    while i < n:
        fold = folds[i]
        matched = 0
        for name in by_first.get(fold, ()):
            size = len(name)
            if i + size <= n and all(
                folds[i + k] == name[k] and w.gap_matches(i + k - 1, _DIR_GAP) for k in range(1, size)
            ):
                matched = size
                break
        if not matched and fold in TITLES and i + 1 < n and folds[i + 1] in surnames and w.gap_matches(i, _DIR_GAP):
            matched = 2  # "dr patel": a title and the last word of a member's name
        if matched:
            hits.append((w.starts[i], w.ends[i + matched - 1], REASON_MEMBER))
            i += matched
        else:
            i += 1
    return hits


# --- API -----------------------------------------------------------------------------------------

_PRIORITY = {REASON_MEMBER: 0, REASON_TITLE: 1, REASON_GIVEN: 2}


def find_person_names(text: str, directory_names: Iterable[str] = ()) -> list[NameHit]:
    """Return the places in `text` that look like a person's name (empty list when none).

    `directory_names` are the workspace's real and display names; pass the same tuple each time
    to reuse the cached index. Overlapping hits are merged, keeping the longest, in text order.
    """
    masked = _mask_mentions(text)
    spans = _pattern_hits(masked)
    names = directory_names if isinstance(directory_names, tuple) else tuple(directory_names)
    if names:
        spans += _directory_hits(masked, _directory_index(names))
    spans.sort(key=lambda s: (s[0], s[0] - s[1], _PRIORITY[s[2]]))
    hits: list[NameHit] = []
    reached = 0
    for start, end, reason in spans:
        if start >= reached:
            hits.append(NameHit(text[start:end], reason))
            reached = end
    return hits


_MESSAGE_LIMIT = 150


def describe_hits(hits: list[NameHit]) -> str:
    """A sentence for the field error (under 150 characters), quoting at most the first two hits.

    Empty string when there are no hits.
    """
    quoted: list[str] = []
    for hit in hits:
        words = " ".join(hit.text.split())
        if words.casefold() not in (q.casefold() for q in quoted):
            quoted.append(words)
    if not quoted:
        return ""
    noun = "a name" if len(quoted) == 1 else "names"
    more = f" and {len(quoted) - 2} more" if len(quoted) > 2 else ""
    message = ""
    for limit in (40, 28, 16, 8):
        shown = ", ".join(f'"{_shorten(q, limit)}"' for q in quoted[:2])
        message = f"This looks like {noun} ({shown}{more}). Refer to the staff member by case number or initials only."
        if len(message) < _MESSAGE_LIMIT:
            break
    return message


def _shorten(words: str, limit: int) -> str:
    return words if len(words) <= limit else words[: limit - 1].rstrip() + "…"
