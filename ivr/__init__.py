"""The voice menu: pure flow (state + caller event + now -> next action), prompts in nl/en, intents."""
