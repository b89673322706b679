"""The Slack app: Bolt listeners, `/kam`, the assistant panel, live answers, the disclosure policy,
ingress, egress, blocks, App Home, server, workers. Imports bot.* and below; not bot.cli."""
