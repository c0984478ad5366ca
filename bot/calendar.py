"""The `.ics` file that comes with the day-before reminder, so the session lands in a calendar."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.dialog.types import Document

CALENDAR_TYPE = "text/calendar"
# Sessions have a start, not an end: a half-day is what a reception session takes.
SESSION_LENGTH = timedelta(hours=4)


def session_event(
    *,
    code: str,
    title: str,
    starts_at: datetime,
    location: str,
    description: str,
    online_room: str,
    issued_at: datetime,
) -> Document:
    """One VEVENT per registration. The UID is the registration's, so the file sent after a
    session moved replaces the old entry; SEQUENCE (minutes since the epoch at issue) only
    grows, which is what calendar programs compare to take the newer one."""
    from icalendar import Calendar, Event  # 3 MB, for the day-before reminders only

    event = Event()
    event.add("uid", f"{code}@tiepdan")
    event.add("sequence", int(issued_at.timestamp()) // 60)
    event.add("dtstamp", issued_at)
    event.add("dtstart", starts_at)
    event.add("duration", SESSION_LENGTH)
    event.add("summary", title)
    event.add("location", location)
    event.add("description", description)
    if online_room.startswith(("https://", "http://")):
        event.add("url", online_room)
    calendar = Calendar()
    calendar.add("prodid", "-//tiepdan//tiep cong dan//VI")
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    calendar.add_component(event)
    return Document(f"{code}.ics", calendar.to_ical(), CALENDAR_TYPE)
