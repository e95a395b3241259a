"""The port to the phone network: the Twilio REST adapter, and the simulator that plays Twilio."""
