"""Custom actions of the Relais bot, served by `rasa run actions --actions bot.actions`.

- `language`: which language a visitor writes in (metadata first, then a word-list
  heuristic), decided once per conversation;
- `catalog`: the shop's product categories and their names in both languages;
- `actions`: the Rasa SDK actions (session start, language tracking, fallback,
  handoff).
"""
