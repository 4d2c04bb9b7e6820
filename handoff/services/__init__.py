"""Use cases between the API edges and the components (store, routing, bot, bus).

`handoffs.HandoffCoordinator` moves conversations between the bot and humans,
`visitors.VisitorService` serves the widget, `desk.AgentDesk` serves the console.
"""
