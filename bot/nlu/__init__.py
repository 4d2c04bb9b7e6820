"""Custom NLU components of the Relais bot (loaded by Rasa from the repo root)."""
