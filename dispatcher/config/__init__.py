"""Configuration as data, live (issue 14.1): communities, bots, push endpoints and whistle
recipients, written through the compacted `config` topic, followed by every process.

- `view.py`: the fold of the topic into memory (what the API and the worker read)
- `secrets.py`: redaction, keyed fingerprints, new secrets and their policy
- `follower.py`: the Kafka side: reading the topic into a view, writing records
- `changes.py`: staff edits → records (upsert of a community document, bot rotation)
- `bootstrap.py`: environment/file configuration: a dev layer, or the seed of an empty store
- `cli.py`: `python -m dispatcher config ...` (through the staff API)
"""
