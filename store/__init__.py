"""The account data store: typed models, engine, migrations, CSV import, demo data, access."""
