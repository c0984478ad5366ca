"""What people type instead of pressing a button, and what is no answer at all.

Compared without case, diacritics or punctuation ("Đồng ý!" is "dong y"), and without the
polite words around an answer ("dạ, đồng ý ạ" is "dong y"). Both languages everywhere: a
Vietnamese speaker who chose English still types "xong".
"""

from __future__ import annotations

from storage.text import plain

# Said before or after an answer out of politeness; they change nothing in it.
LEADING = frozenset({"da", "vang", "u", "ok", "oke", "okay"})
TRAILING = frozenset({"a", "nhe", "nha", "oi", "roi", "please", "thanks"})

AGREE = frozenset(
    {"dong y", "toi dong y", "ok", "oke", "okay", "co", "vang", "da", "yes", "agree", "i agree"}
)
REFUSE = frozenset({"khong", "khong dong y", "toi khong dong y", "no", "i do not agree", "i don t agree"})
DONE = frozenset({"xong", "da xong", "het", "du", "da du", "done", "finished", "that s all"})
# Clearing a draft, as the "Xóa, viết lại từ đầu" button does: never text of the draft.
CLEAR = frozenset(
    {"xoa", "xoa het", "xoa di", "xoa di viet lai", "viet lai", "viet lai tu dau", "xoa viet lai tu dau"}
    | {"clear", "clear it", "start again", "start over"}
)
NONE_YET = frozenset(
    {"khong", "chua", "khong co", "chua co", "chua ai", "chua co ai", "chua co co quan nao", "none", "no"}
)
REGISTER = frozenset({"dang ky", "dang ki", "dang ky tiep dan", "register", "sign up"})

# Words that make up greetings, fillers, yes/no and questions to the bot ("có ai không",
# "ok", "xin chào", "quay lại"), none of them a syllable of a Vietnamese name or part of
# an agency's name. A text made only of them answers no question that asks for a name.
FILLERS = frozenset(
    {
        *("ok", "oke", "okay", "okie", "vang", "da", "u", "uh", "um", "uhm", "a", "ah", "oi"),
        *("co", "khong", "ko", "k", "duoc", "roi", "chua", "dung", "yes", "no"),
        *("alo", "allo", "hello", "hi", "chao", "xin", "ban", "ai", "day", "nhe", "nha"),
        *("gi", "sao", "nao", "the", "vay", "quay", "lai", "back", "help", "test", "toi", "biet"),
        *("cam", "on", "thanks", "thank", "you", "oh", "hmm", "hm"),
    }
)


def core(text: str) -> str:
    """The answer in `text` without the polite words around it: "Dạ, đồng ý ạ." -> "dong y"."""
    words = plain(text).split()
    while len(words) > 1 and words[-1] in TRAILING:
        words.pop()
    while len(words) > 1 and words[0] in LEADING:
        words.pop(0)
    return " ".join(words)


def means(text: str, phrases: frozenset[str]) -> bool:
    return bool(text) and core(text) in phrases


def is_filler(text: str) -> bool:
    """Whether `text` is only greetings, yes/no or a question to the bot, no information."""
    words = plain(text).split()
    return bool(words) and all(word in FILLERS for word in words)
