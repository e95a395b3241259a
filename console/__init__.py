"""Agent and supervisor web UI and the JSON API (auth, roles, CSRF), server-rendered."""
