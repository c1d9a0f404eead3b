"""Blinded independent central review: pseudonyms and study days, two readers, discordance, adjudication."""
