"""Money and records: keys, rate limits, credits and holds, BYOK, the crash journal, the
generation record and its bounds. Imports only catalog/ of core/."""
