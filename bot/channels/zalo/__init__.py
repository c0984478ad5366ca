"""Zalo channels: the Official Account API (production) and the Bot API (pilot), each with
its own small typed client; nothing outside this package talks to Zalo."""
