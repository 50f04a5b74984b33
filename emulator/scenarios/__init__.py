"""Drills: the event catalogue (catalogue.py) and the scenario engine that plays it."""
