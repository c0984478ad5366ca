"""What a platform's ids may be (the user key itself is `storage.identity.UserKey`)."""

from __future__ import annotations

import re

# What a platform's user or message id may be: a short word, as every platform sends them.
# Anything else (null, an object, a list, 200 characters) is a malformed event, not a user.
PLATFORM_ID = re.compile(r"[0-9A-Za-z_.:-]{1,64}")


def platform_id(value: object) -> str | None:
    """`value` as an id (a string or an integer, not a bool), or None when it cannot be one."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    text = str(value)
    return text if PLATFORM_ID.fullmatch(text) else None
