"""The caller's personal data: how long we keep their words, and erasing them on request."""
