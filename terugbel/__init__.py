"""Terugbel: a problem-first contact-center IVR and callback scheduler."""
