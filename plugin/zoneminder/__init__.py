"""ZoneMinder adapter: API client, event source, write-back sink and zmeventnotification formats."""
