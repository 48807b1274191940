"""Régua core: configuration, data model, services, channels, payments and reminders."""
