DROP TABLE IF EXISTS waitlist_entries;
