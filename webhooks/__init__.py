"""Twilio-facing HTTP: voice, gather, sms, status callbacks; signature check; TwiML rendering."""
