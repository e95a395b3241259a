"""The simulator that plays Twilio: REST API, voice engine, parties, on an injected clock."""

from telephony.simulator.facade import Simulator
from telephony.simulator.parties import Party, Reply, agent, caller, load_parties
from telephony.simulator.transcript import CallTranscript, Turn

__all__ = ["CallTranscript", "Party", "Reply", "Simulator", "Turn", "agent", "caller", "load_parties"]
