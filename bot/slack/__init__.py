"""The Slack app: Bolt listeners, `/kam`, ingress (ack, event ledger), egress, blocks, App Home,
the HTTP server, answer workers. May import bot.assistant/config/factory and below; not bot.cli."""
