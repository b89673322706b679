"""The account data store: typed models, engine, migrations, CSV import, demo data, access.
Imports nothing of bot, tools, knowledge or prompts."""
